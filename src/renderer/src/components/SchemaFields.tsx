// Form inputs generated from a table of fields (shared/schema.ts): each field's label, bounds, help
// and error come from its one declaration, so the form can never disagree with the engine or the CLI.

import { NumberInput, Select, SimpleGrid, Switch, Textarea, TextInput } from '@mantine/core';
import { describeField, fieldError, type Field } from '../../../shared/schema';

/** A form value: what the input holds (numbers may still be text being typed). */
export type FormValue = string | number | boolean | null;

/** The value a field's input holds, as the field's type (text → number, "1, 2" → [1, 2], "inf" → ∞). */
export function parseFormValue(f: Field, v: FormValue): unknown {
  switch (f.kind) {
    case 'number':
      return v === 'inf' || v === '∞' ? Infinity : typeof v === 'string' ? (v.trim() === '' ? NaN : Number(v)) : v;
    case 'nullable-number':
      return v === '' || v === null ? null : Number(v);
    case 'number-list':
      return String(v)
        .split(',')
        .map((s) => (s.trim() === '' ? NaN : Number(s.trim())));
    case 'text-list':
      return String(v ?? '')
        .split('\n')
        .map((s) => s.trim())
        .filter((s) => s !== '');
    default:
      return v;
  }
}

/** The input's starting text for a field's value. */
export function formValueOf(f: Field, v: unknown): FormValue {
  if (f.kind === 'number-list') return (v as number[]).join(', ');
  if (f.kind === 'text-list') return (v as string[]).join('\n');
  if (v === Infinity) return 'inf';
  return v as FormValue;
}

export const labelOf = (key: string, f: Field): string => f.label ?? key;

/** The error under a field's input, or null. */
export function formError(f: Field, v: FormValue): string | null {
  const e = fieldError(f, parseFormValue(f, v));
  return e && `${e.slice(0, 1).toUpperCase()}${e.slice(1)}`;
}

export function SchemaFields({
  fields,
  keys,
  values,
  onChange,
  options,
  cols = 2,
}: {
  fields: Record<string, Field>;
  keys: string[];
  values: Record<string, FormValue>;
  onChange: (key: string, v: FormValue) => void;
  /** Per-field choice values to offer (a subset), e.g. the conditionings this model allows. */
  options?: Record<string, readonly string[]>;
  cols?: number;
}) {
  return (
    <SimpleGrid cols={{ base: 1, sm: cols }}>
      {keys.map((key) => {
        const f = fields[key]!;
        const v = values[key] ?? null;
        const common = { label: labelOf(key, f), description: f.help, 'data-testid': `field-${key}` };
        // A text input: lists ("1, 1.5, 2") and numbers that may be ∞.
        const text = (placeholder?: string) => (
          <TextInput
            key={key}
            {...common}
            value={String(v ?? '')}
            onChange={(e) => onChange(key, e.currentTarget.value)}
            error={formError(f, v)}
            placeholder={placeholder}
          />
        );
        switch (f.kind) {
          case 'choice':
            return (
              <Select
                key={key}
                {...common}
                value={String(v)}
                onChange={(x) => x !== null && onChange(key, x)}
                data={(options?.[key] ?? f.values).map((x) => ({ value: x, label: f.labels?.[x] ?? x }))}
                allowDeselect={false}
              />
            );
          case 'boolean':
            return (
              <Switch
                key={key}
                {...common}
                checked={v === true}
                onChange={(e) => onChange(key, e.currentTarget.checked)}
                mt="md"
              />
            );
          case 'number-list':
            return text();
          case 'text-list':
            // One entry a line (an entry may hold commas: "onnx:r.onnx,weight=0.5").
            return (
              <Textarea
                key={key}
                {...common}
                value={String(v ?? '')}
                onChange={(e) => onChange(key, e.currentTarget.value)}
                error={formError(f, v)}
                placeholder={f.entry}
                autosize
                minRows={1}
              />
            );
          case 'number':
          case 'nullable-number':
            // ∞ cannot be typed into a NumberInput: such fields take text ("inf").
            if (f.inf) return text(describeField(f));
            return (
              <NumberInput
                key={key}
                {...common}
                value={v === null ? '' : (v as number | string)}
                onChange={(x) => onChange(key, x)}
                min={f.min ?? f.gt}
                max={f.max ?? f.lt}
                step={f.step ?? (f.int ? 1 : undefined)}
                allowDecimal={!f.int}
                // Mantine clamps an out-of-range value on blur by default: the user would never learn
                // that 50,000 became 10,000. The value stays as typed and the error says why.
                clampBehavior="none"
                error={formError(f, v)}
              />
            );
        }
      })}
    </SimpleGrid>
  );
}
