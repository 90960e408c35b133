// Sizes, seeds and scales a command or a setting may ask for: the settings' schemas
// (learner-config.ts, sampler-settings.ts, curve.ts) and the commands' own flags (--n, --batch,
// --seed, …, in src/cli/) take their bounds from here. Each says why it is where it is. No imports:
// every command may load this.

/** Largest seed: the random streams mix 32-bit words (samplers/random.ts), as NumPy's seeds are 32-bit. */
export const MAX_SEED = 2 ** 32 - 1;

/**
 * Largest batch of anything (samples per sampler batch, trajectories, minibatches): 64× the paper's
 * 1,024 trajectories. The denoiser sees batches of at most 1,024 rows anyway (model.ts), so larger
 * ones only take memory.
 */
export const MAX_BATCH = 65_536;

/** Most samples `sample` draws in one go: 20× FID's customary 50,000 (fashion-mnist: 3.1 GB of float32). */
export const MAX_SAMPLES = 1_000_000;

/** Most samples an evaluation scores (eval, grid, a run's evaluations): 2× FID's 50,000; precision/recall's neighbour search grows as n². */
export const MAX_EVAL_SAMPLES = 100_000;

/** Most KID subsets: 100× the reference implementation's 100 (each costs two m×m kernels). */
export const MAX_KID_SUBSETS = 10_000;

/** Largest k of the k-NN metrics (precision, recall, density, coverage): Kynkäänniemi et al. use 3, Naeem et al. 5; at 1,000 a ball is no longer local. */
export const MAX_NEIGHBOURS = 1000;

/** Largest |w|: published scales are 1–10 (Stable Diffusion 7.5); at 1,000 the bundled ring's samples overflow float32. */
export const MAX_GUIDANCE = 100;

/** EDM's largest churn γ (Karras et al. 2022, Alg. 2): t̂ = t(1+γ) ≤ √2·t, never more noise added than is there. */
export const GAMMA_MAX = Math.SQRT2 - 1;

/** Largest noise level any setting may name: no model here or in the literature goes near it (EDM's σ_max is 80, score-SDE VE models' at most ~1,350). */
export const SIGMA_LIMIT = 1e4;

/** Most noise levels N: DDPM's T = 1,000; EDM's longest published schedules are 256 steps (ImageNet-64 stochastic, 511 NFE). */
export const MAX_STEPS = 1000;
