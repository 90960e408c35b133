// Explicit rewards (issue 17; the DDPO thesis in ../shared/papers): what `--reward` names, one
// table. Each reward is scored on the final sample in the model's data space (engine/rewards/); a
// specification is
//
//   [-]NAME[:ARG,key=value,…]        e.g.  jpeg-size:quality=75   -jpeg-size   class-logit:7
//                                          class-mix:target.json   onnx:reward.onnx,weight=0.5
//                                          region:x=0,y=4,r=1   box:x0=0,x1=2,y0=-1,y1=1
//
// ARG is the reward's one positional argument (a class, a file), the key=value pairs its parameters
// (bounds and help from the fields below) and `weight` (default 1); a leading "-" negates it (`-jpeg-size`:
// compressibility, the thesis's negative file size). Several specifications are summed with their
// weights: R(x) = Σ_i sign_i · weight_i · r_i(x). A file's path may not hold "," or "=" (the
// separators); put such a file elsewhere.

import { describeField, fieldError, int, num, type Field, type NumberField } from './schema';

/** The positional argument a reward takes: a class index, or a file. */
interface Positional {
  key: string;
  kind: 'class' | 'file';
  help: string;
}

export interface RewardDef {
  help: string;
  positional: Positional | null;
  params: Record<string, NumberField>;
  /** The data it needs: images (shape [C, H, W]), 1-D or 2-D points, or any sample (checked when the rewards open). */
  needs: 'image' | 'points1d' | 'points2d' | 'any';
}

const weight = num({ default: 1, gt: 0, max: 1e6, help: 'how much this reward counts in the sum' });

export const REWARDS = {
  'jpeg-size': {
    help: 'the sample as a JPEG image: its encoded size in kB (1 kB = 1,000 bytes), with jpeg-js at the given quality; -jpeg-size rewards compressibility, jpeg-size incompressibility (DDPO: PIL, quality 95)',
    positional: null,
    params: {
      quality: int({ default: 95, min: 1, max: 100, help: 'JPEG quality of the encoding (DDPO: 95)' }),
      weight,
    },
    needs: 'image',
  },
  'class-logit': {
    help: "the logit of one class from the model's classifier (its feature extractor's logits output): class-logit:K",
    positional: { key: 'class', kind: 'class', help: 'the class index K (0-based)' },
    params: { weight },
    needs: 'any',
  },
  'class-mix': {
    help: "moves the class histogram of the samples toward a target: a sample of class c (by the model's classifier, or the nearest mixture component) gets log(p*_c / p̂_c), p* the target and p̂ the batch's class frequencies smoothed by alpha (classes the batch has too much of score below 0, too little above): class-mix:target.json",
    positional: {
      key: 'target',
      kind: 'file',
      help: 'a JSON list of the target share of each class (non-negative, summing to 1), or an object of class name → share',
    },
    params: {
      alpha: num({
        default: 1,
        gt: 0,
        max: 1e6,
        help: "add-alpha smoothing of the batch's class counts (p̂_c = (n_c + α)/(n + Kα))",
      }),
      weight,
    },
    needs: 'any',
  },
  onnx: {
    help: 'your ONNX reward model: input x [N, …shape] in the model’s data range (and class_labels [N] int64 when it declares it), output reward [N] float32: onnx:reward.onnx',
    positional: { key: 'file', kind: 'file', help: 'the .onnx file' },
    params: { weight },
    needs: 'any',
  },
  region: {
    help: 'for 2-D models: minus the distance of the point to a disc (0 inside it): region:x=X,y=Y,r=R',
    positional: null,
    params: {
      x: num({ default: 0, min: -1e6, max: 1e6, help: 'the disc’s centre, first coordinate' }),
      y: num({ default: 0, min: -1e6, max: 1e6, help: 'the disc’s centre, second coordinate' }),
      r: num({ default: 1, min: 0, max: 1e6, help: 'the disc’s radius' }),
      weight,
    },
    needs: 'points2d',
  },
  bump: {
    help: 'for 1-D models: a bump of height 1 at x, exp(−(sample − x)²/(2·width²)) (the q-learning paper’s 1-D benchmark rewards samples near 6): bump:x=6,width=1',
    positional: null,
    params: {
      x: num({ default: 0, min: -1e6, max: 1e6, help: 'where the bump peaks' }),
      width: num({
        default: 1,
        gt: 0,
        max: 1e6,
        help: 'its width (the standard deviation of the Gaussian it is shaped as)',
      }),
      weight,
    },
    needs: 'points1d',
  },
  box: {
    help: 'for 2-D models: 1 inside the rectangle [x0, x1] × [y0, y1], 0 outside (the q-learning paper’s Swiss-roll reward): box:x0=A,x1=B,y0=C,y1=D',
    positional: null,
    params: {
      x0: num({ default: -1, min: -1e6, max: 1e6, help: 'the rectangle’s left edge' }),
      x1: num({ default: 1, min: -1e6, max: 1e6, help: 'the rectangle’s right edge (≥ x0)' }),
      y0: num({ default: -1, min: -1e6, max: 1e6, help: 'the rectangle’s bottom edge' }),
      y1: num({ default: 1, min: -1e6, max: 1e6, help: 'the rectangle’s top edge (≥ y0)' }),
      weight,
    },
    needs: 'points2d',
  },
} as const satisfies Record<string, RewardDef>;

export type RewardName = keyof typeof REWARDS;
export const REWARD_NAMES = Object.keys(REWARDS) as RewardName[];

/** One parsed `--reward`: which, its sign, its positional argument, its parameters (weight included). */
export interface RewardSpec {
  name: RewardName;
  /** −1 for a leading "-" (the reward negated). */
  sign: 1 | -1;
  /** The class index or file, as given (null when the reward takes none). */
  arg: string | null;
  params: Record<string, number>;
  /** The text it was parsed from. */
  text: string;
}

/** A specification that cannot be used: the message names the part and what to write. */
export class RewardSpecError extends RangeError {
  override name = 'RewardSpecError';
}

const usage = (name: RewardName): string => {
  const d: RewardDef = REWARDS[name];
  const parts = [
    ...(d.positional ? [d.positional.key.toUpperCase()] : []),
    ...Object.keys(d.params).map((k) => `${k}=…`),
  ];
  return `${name}${parts.length ? `:${parts.join(',')}` : ''}`;
};

/** Parses one `--reward` specification (see the file's note), checking names, bounds and the positional argument. */
export function parseRewardSpec(text: string): RewardSpec {
  const t = text.trim();
  if (t === '' || t === '-')
    throw new RewardSpecError(`--reward needs a reward name: one of ${REWARD_NAMES.join(', ')}`);
  const sign: 1 | -1 = t.startsWith('-') ? -1 : 1;
  const body = sign === -1 ? t.slice(1) : t;
  const colon = body.indexOf(':');
  const nameText = colon >= 0 ? body.slice(0, colon) : body;
  if (!(REWARD_NAMES as string[]).includes(nameText))
    throw new RewardSpecError(
      `--reward ${text}: unknown reward "${nameText}"; the rewards are ${REWARD_NAMES.join(', ')} (e.g. -jpeg-size, class-logit:7)`,
    );
  const name = nameText as RewardName;
  const def: RewardDef = REWARDS[name];
  const params: Record<string, number> = {};
  let arg: string | null = null;
  const items = colon >= 0 ? body.slice(colon + 1).split(',') : [];
  for (const raw of items) {
    const item = raw.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq < 0) {
      if (!def.positional)
        throw new RewardSpecError(`--reward ${text}: ${name} takes no "${item}"; write it as ${usage(name)}`);
      if (arg !== null)
        throw new RewardSpecError(
          `--reward ${text}: ${name} takes one ${def.positional.key} (got "${arg}" and "${item}"); write it as ${usage(name)}`,
        );
      arg = item;
      continue;
    }
    const key = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    const f: Field | undefined = (def.params as Record<string, NumberField>)[key];
    if (!f)
      throw new RewardSpecError(
        `--reward ${text}: ${name} has no parameter "${key}"; its parameters are ${Object.keys(def.params).join(', ')}`,
      );
    if (key in params) throw new RewardSpecError(`--reward ${text}: ${key} is given twice`);
    const v = value === '' ? NaN : Number(value);
    const problem = fieldError(f, v);
    if (problem) throw new RewardSpecError(`--reward ${text}: ${key} must be ${describeField(f)}, got "${value}"`);
    params[key] = v;
  }
  if (def.positional && arg === null)
    throw new RewardSpecError(
      `--reward ${text}: ${name} needs its ${def.positional.key} (${def.positional.help}); write it as ${usage(name)}`,
    );
  if (def.positional?.kind === 'class' && !/^\d+$/.test(arg!))
    throw new RewardSpecError(`--reward ${text}: the class must be a whole number ≥ 0, got "${arg}"`);
  for (const [k, f] of Object.entries(def.params)) params[k] ??= f.default;
  if (name === 'box' && !(params['x0']! <= params['x1']! && params['y0']! <= params['y1']!))
    throw new RewardSpecError(
      `--reward ${text}: the rectangle is empty (x0 ${params['x0']} > x1 ${params['x1']} or y0 ${params['y0']} > y1 ${params['y1']}); give x0 ≤ x1 and y0 ≤ y1`,
    );
  return { name, sign, arg, params, text: t };
}

/** The specification's text with its positional argument replaced (a file made absolute, say), the rest as written. */
export function withRewardArg(s: RewardSpec, arg: string): string {
  const colon = s.text.indexOf(':');
  if (s.arg === null || colon < 0) return s.text;
  const items = s.text.slice(colon + 1).split(',');
  const at = items.findIndex((i) => i.trim() === s.arg);
  items[at] = arg;
  return `${s.text.slice(0, colon + 1)}${items.join(',')}`;
}

/** A reward as people read it: "−jpeg-size (quality 95)", "class-logit 7 × 0.5". */
export function describeReward(s: RewardSpec): string {
  const def: RewardDef = REWARDS[s.name];
  const shown = Object.entries(s.params).filter(([k, v]) => k !== 'weight' && v !== def.params[k]!.default);
  return `${s.sign < 0 ? '−' : ''}${s.name}${s.arg !== null ? ` ${s.arg}` : ''}${shown.length ? ` (${shown.map(([k, v]) => `${k} ${v}`).join(', ')})` : ''}${s.params['weight'] !== 1 ? ` × ${s.params['weight']}` : ''}`;
}

/** `--reward` help: every reward, its argument and parameters. */
export function rewardHelpLines(indent = '  '): string[] {
  const out: string[] = [];
  for (const name of REWARD_NAMES) {
    const d: RewardDef = REWARDS[name];
    out.push(`${indent}${usage(name)}`, `${indent}    ${d.help}`);
    if (d.positional) out.push(`${indent}    ${d.positional.key.toUpperCase()}: ${d.positional.help}`);
    for (const [k, f] of Object.entries(d.params))
      out.push(`${indent}    ${k}: ${f.help} (${describeField(f)}; default ${f.default})`);
  }
  return out;
}
