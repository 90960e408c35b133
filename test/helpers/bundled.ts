// The bundled models (resources/models/, made by tools/generate-models.ts and tools/fashion-mnist/),
// in the order the registry lists them: one list for every test that names them all.

export const BUNDLED_IDS = [
  'fashion-mnist',
  'gmm-ring8',
  'gmm-ring8-exact',
  'gmm1d-a',
  'gmm1d-b',
  'gmm64',
  'swissroll',
  'swissroll-a',
  'swissroll-b',
];

/** The mixture benchmarks: every bundled model but the trained image model, each with its params.json. */
export const MIXTURE_IDS = BUNDLED_IDS.filter((id) => id !== 'fashion-mnist');
