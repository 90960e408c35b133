// A form generated from one schema (shared/schema.ts) and kept per model in local storage ([Note: kept
// settings] in TuneScreen.tsx): its values over the schema's defaults, the run directory typed, what
// differs from the defaults (what a start request sends; the engine fills in the rest from the same
// schema), the fields' own errors, and the checks across fields in the settings parser's own words.
// The step scheduler's form (SchedulerTune.tsx) and the drift policy's (DriftTune.tsx) are two uses.

import { useMemo, useState } from 'react';
import { useLocalStorage } from '@mantine/hooks';
import { reads, type Fields } from '../../../shared/schema';
import { formError, formValueOf, labelOf, parseFormValue, type FormValue } from './SchemaFields';

export interface KeptForm {
  values: Record<string, FormValue>;
  runDir: string;
}

/** The kept form read back: only the schema's fields, each a plain value, over the defaults. */
export function readKeptForm(raw: unknown, defaults: Record<string, FormValue>): KeptForm {
  const values = { ...defaults };
  if (typeof raw !== 'object' || raw === null) return { values, runDir: '' };
  const r = raw as { values?: unknown; runDir?: unknown };
  if (typeof r.values === 'object' && r.values !== null)
    for (const k of Object.keys(defaults)) {
      const v = (r.values as Record<string, unknown>)[k];
      if (v === null || ['string', 'number', 'boolean'].includes(typeof v)) values[k] = v as FormValue;
    }
  return { values, runDir: typeof r.runDir === 'string' ? r.runDir : '' };
}

/** The form values of a config's defaults. */
export function formDefaults<F extends Fields>(fields: F, config: Record<keyof F, unknown>): Record<string, FormValue> {
  return Object.fromEntries(Object.keys(fields).map((k) => [k, formValueOf(fields[k]!, config[k])]));
}

export function useKeptForm<F extends Fields, C extends { iterations: number }>(o: {
  fields: F;
  defaultConfig: C;
  /** The settings parser: a whole config, checked across fields; `label` names a field as the form shows it. */
  parse: (v: unknown, label: (k: string) => string) => C;
  storageKey: string;
}) {
  const keys = Object.keys(o.fields) as (keyof F & string)[];
  const defaults = useMemo(
    () => formDefaults(o.fields, o.defaultConfig as Record<keyof F, unknown>),
    [o.fields, o.defaultConfig],
  );
  const [saved, setSaved] = useLocalStorage<KeptForm>({
    key: o.storageKey,
    defaultValue: readKeptForm(null, defaults),
    getInitialValueInEffect: false,
    deserialize: (text) => {
      try {
        return readKeptForm(text === undefined ? null : JSON.parse(text), defaults);
      } catch {
        return readKeptForm(null, defaults);
      }
    },
  });
  const { values, runDir } = saved;
  // The settings the chosen values read (the schema's readWhen): only they are on the form, sent and
  // checked; a hidden one keeps its value for when it is read again.
  const shown = keys.filter((k) => reads(o.fields[k]!, values));
  const chosen = useMemo(
    () =>
      Object.fromEntries(
        shown
          .filter((k) => String(values[k]) !== String(defaults[k]))
          .map((k) => [k, parseFormValue(o.fields[k]!, values[k]!)]),
      ),
    [values, defaults],
  );
  const fieldErrors = shown.filter((k) => formError(o.fields[k]!, values[k]!) !== null);
  const checked = useMemo((): { config: C | null; error: string | null } => {
    if (fieldErrors.length > 0) return { config: null, error: null };
    try {
      const label = (k: string): string => labelOf(k, o.fields[k]!);
      return { config: o.parse({ ...o.defaultConfig, ...chosen }, label), error: null };
    } catch (e) {
      return { config: null, error: (e as Error).message };
    }
  }, [chosen, fieldErrors.length]);
  const [starting, setStarting] = useState(false);
  const [startError, setStartError] = useState<string | null>(null);
  /**
   * Starts a run with what was chosen, in the typed run directory (or `defaultRunDir`, made unique by
   * the engine): `request` sends the kind's start message; a refusal shows as the start error.
   */
  const start = async (
    request: (p: { runDir: string; config: Record<string, unknown>; unique: boolean }) => Promise<{ run: string }>,
    defaultRunDir: string,
    onStarted: (run: string, iterations: number) => void,
  ): Promise<void> => {
    if (!checked.config) return;
    setStarting(true);
    setStartError(null);
    try {
      const { run } = await request({
        runDir: runDir.trim() || defaultRunDir,
        config: chosen,
        unique: runDir.trim() === '',
      });
      onStarted(run, checked.config.iterations);
    } catch (e) {
      setStartError((e as Error).message);
    } finally {
      setStarting(false);
    }
  };
  return {
    keys,
    shown,
    start,
    starting,
    startError,
    values,
    runDir,
    chosen,
    checked,
    set: (k: string, v: FormValue): void => setSaved((s) => ({ ...s, values: { ...s.values, [k]: v } })),
    setRunDir: (d: string): void => setSaved((s) => ({ ...s, runDir: d })),
    reset: (): void => setSaved(readKeptForm(null, defaults)),
  };
}
