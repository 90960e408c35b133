// The metadata an exported policy file carries (ONNX metadata_props: every value a string), as one
// schema: the reader checks a file with it, and the types of what it yields come from it. The
// writer is learner/export.ts; the README documents each key.

import { z } from 'zod';
import {
  actionsProblem,
  CONDITIONINGS,
  DIVERGENCES,
  INTERVENTIONS,
  LEARNER_FIELDS,
  LEARNER_SAMPLERS,
} from './learner-config';
import { describeField, fieldError, type Field } from './schema';

export const POLICY_FORMAT = 'sampler-studio-policy';
/** The format of an exported RL step scheduler (engine/scheduler/export.ts). */
export const SCHEDULER_FORMAT = 'sampler-studio-scheduler';
/** An exported drift policy's metadata "format" (engine/drift/export.ts). */
export const DRIFT_FORMAT = 'sampler-studio-drift';

/** A metadata string read as a number satisfying `ok`; `why` says what it must be. */
const numberText = (why: string, ok: (v: number) => boolean) =>
  z
    .string()
    .transform((s) => Number(s))
    .refine((v) => !Number.isNaN(v) && ok(v), { error: why });

/** A metadata string read as a number within a learner field's bounds (the words of its check). */
const fieldText = (f: Field) => numberText(`is not ${describeField(f)}`, (v) => fieldError(f, v) === null);

const oneOf = <T extends string>(values: readonly [T, ...T[]]) =>
  z.enum(values, { error: `is not one of ${values.join(', ')}` });

const fields = z.looseObject({
  format: z.literal(POLICY_FORMAT),
  intervention: oneOf(INTERVENTIONS),
  divergence: oneOf(DIVERGENCES),
  conditioning: oneOf(CONDITIONINGS),
  step_input: oneOf(['true', 'false']).transform((v) => v === 'true'),
  actions: z.string().transform((s, ctx) => {
    try {
      const a = JSON.parse(s) as unknown;
      if (Array.isArray(a) && a.length >= 2 && a.every((x) => typeof x === 'number' && Number.isFinite(x)))
        return a as number[];
    } catch {
      // falls through to the issue below
    }
    ctx.addIssue({ code: 'custom', message: 'is not a JSON list of at least two numbers' });
    return z.NEVER;
  }),
  sampler: oneOf(LEARNER_SAMPLERS),
  steps: fieldText(LEARNER_FIELDS.steps),
  nfe_budget: fieldText(LEARNER_FIELDS.nfeBudget),
  sigma_min: numberText('is not a positive number', (v) => Number.isFinite(v) && v > 0),
  sigma_max: numberText('is not a positive number', (v) => Number.isFinite(v) && v > 0),
  rho: numberText('is not a positive number', (v) => Number.isFinite(v) && v > 0),
  temperature: fieldText(LEARNER_FIELDS.temperature),
  model: z.string(),
  iteration: numberText('is not an integer ≥ 0', (v) => Number.isInteger(v) && v >= 0),
});

/** The metadata, with the action values within their intervention's bounds (as a run's config is checked). */
export const PolicyMetadataSchema = fields.superRefine((m, ctx) => {
  const problem = actionsProblem({ intervention: m.intervention, actions: m.actions, steps: m.steps });
  if (problem) ctx.addIssue({ code: 'custom', path: ['actions'], message: problem });
});
export type PolicyMetadata = z.output<typeof PolicyMetadataSchema>;

/** Checks metadata; the first problem as [key, what is wrong] ("missing" when the key is absent), or the parsed metadata. */
export function parsePolicyMetadata(
  meta: Record<string, string>,
): { ok: true; value: PolicyMetadata } | { ok: false; key: string; problem: string } {
  const r = PolicyMetadataSchema.safeParse(meta);
  if (r.success) return { ok: true, value: r.data };
  const issue = r.error.issues[0]!;
  const key = String(issue.path[0] ?? '');
  return { ok: false, key, problem: meta[key] === undefined ? 'missing' : issue.message };
}
