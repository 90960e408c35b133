// The Sampler Studio version, written into run configs and exported files.
export const VERSION = '0.1.0';
