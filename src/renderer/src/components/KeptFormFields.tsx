// The body of a kept schema form (useKeptForm.ts) below its introduction: the basic fields, the run
// directory, the other fields under a collapsible "Advanced", and what stops a start. The step
// scheduler's form and the drift policy's are two uses.

import { useState } from 'react';
import { Button, Collapse, TextInput } from '@mantine/core';
import type { Fields } from '../../../shared/schema';
import { StartProblems } from './StartProblems';
import { SchemaFields, type FormValue } from './SchemaFields';

export function KeptFormFields<F extends Fields>(p: {
  fields: F;
  basic: (keyof F & string)[];
  advanced: (keyof F & string)[];
  values: Record<string, FormValue>;
  onChange: (k: string, v: FormValue) => void;
  runDir: string;
  defaultRunDir: string;
  onRunDir: (d: string) => void;
  /** The settings parser's check across fields, and the engine's refusal of the start. */
  configError: string | null;
  startError: string | null;
}) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <SchemaFields fields={p.fields} keys={p.basic} values={p.values} onChange={p.onChange} />
      <TextInput
        label="Run directory"
        placeholder={p.defaultRunDir}
        description="empty: the name shown, with -2, -3, … added if an earlier run has it"
        value={p.runDir}
        onChange={(e) => p.onRunDir(e.currentTarget.value)}
        maw={440}
      />
      <div>
        <Button variant="subtle" px={0} onClick={() => setOpen((a) => !a)} aria-expanded={open}>
          {open ? '▾' : '▸'} Advanced ({p.advanced.length} settings)
        </Button>
        <Collapse expanded={open}>
          <SchemaFields fields={p.fields} keys={p.advanced} values={p.values} onChange={p.onChange} cols={3} />
        </Collapse>
      </div>
      <StartProblems config={p.configError} start={p.startError} />
    </>
  );
}
