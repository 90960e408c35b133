// The Sampler Studio command line: `npm run cli -- <command> [flags]` or `sampler-studio <command>`.
// With --json the final line of stdout is the result object; progress goes to stderr (a bar on a
// TTY, JSON lines otherwise). Ctrl-C or SIGTERM stops cleanly: nothing half-written is left behind.

import { constants } from 'node:os';
import { ModelError } from '../main/engine/models/manifest';
import { SamplingCancelled } from '../main/engine/samplers/loop';
import { NpyError } from '../main/engine/io/npy';
import { didYouMean, FlagError, printUsage, UsageError } from './common';

export { UsageError };

// [Note: commands load lazily]
// Each command's module is imported when that command runs, so a command pays only for what it
// uses: `models` and `fid` never load TensorFlow.js or the learner (test/cli-lazy.test.ts checks it;
// `npm run bench -- cli` times it). Keep the imports above light for the same reason: the error
// classes the catch below tells apart come from small modules, and PolicyFileError, which lives in
// the learner (learner/onnx-policy.ts), is recognised by its name rather than imported.
type Command = (argv: string[], signal: AbortSignal) => Promise<void>;
const COMMANDS: Record<string, () => Promise<Command>> = {
  models: async () => (await import('./models-cmd')).cmdModels,
  sample: async () => (await import('./sample')).cmdSample,
  eval: async () => (await import('./metrics-cmd')).cmdEval,
  grid: async () => (await import('./grid-cmd')).cmdGrid,
  'optimize-schedule': async () => (await import('./optimize-cmd')).cmdOptimizeSchedule,
  'analyze-reward': async () => (await import('./analyze-reward-cmd')).cmdAnalyzeReward,
  train: async () => (await import('./train-cmd')).cmdTrain,
  worker: async () => (await import('./worker-cmd')).cmdWorker,
  export: async () => (await import('./export-cmd')).cmdExport,
  table: async () => (await import('./table-cmd')).cmdTable,
  'drift-tables': async () => (await import('./drift-tables-cmd')).cmdDriftTables,
  fid: async () => (await import('./metrics-cmd')).cmdFid,
  kid: async () => (await import('./metrics-cmd')).cmdKid,
  prdc: async () => (await import('./metrics-cmd')).cmdPrdc,
  features: async () => (await import('./metrics-cmd')).cmdFeatures,
};

/** The commands, in the order of the help (test/cli.test.ts checks each has a help section). */
export const COMMAND_LIST = Object.keys(COMMANDS);

/** Errors the user can fix: reported as "error: …" with exit code 2, no stack trace. */
function isUserError(e: unknown): e is Error {
  return (
    e instanceof UsageError ||
    e instanceof ModelError ||
    e instanceof NpyError ||
    e instanceof RangeError ||
    (e instanceof Error && e.name === 'PolicyFileError')
  );
}

/** The exit code of a process stopped by a signal, as shells report it: 128 + the signal's number. */
const exitCodeOf = (signal: 'SIGINT' | 'SIGTERM'): number => 128 + constants.signals[signal];

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const controller = new AbortController();
  // Ctrl-C (SIGINT) and SIGTERM (kill, timeout, systemd, docker stop) stop after the current step, so
  // a training run writes its checkpoint and a grid its finished cells; a second signal quits at
  // once. The exit code is the shell's for that signal: 130 or 143.
  let stopping: 'SIGINT' | 'SIGTERM' | undefined;
  const onSignal = (signal: 'SIGINT' | 'SIGTERM'): void => {
    if (stopping) process.exit(exitCodeOf(signal));
    stopping = signal;
    process.stderr.write(
      signal === 'SIGINT'
        ? '\ninterrupted: stopping after the current step (Ctrl-C again to quit at once)\n'
        : '\nterminated: stopping after the current step (SIGTERM again to quit at once)\n',
    );
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
      await printUsage();
      return command === undefined ? 2 : 0;
    }
    const load = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
    if (!load) {
      const near = didYouMean(command, Object.keys(COMMANDS));
      throw new UsageError(
        `unknown command "${command}"${near ? `; did you mean ${near}?` : ''} (commands: ${Object.keys(COMMANDS).join(', ')}; see --help)`,
      );
    }
    const run = await load();
    await run(rest, controller.signal);
    return 0;
  } catch (e) {
    if (e instanceof SamplingCancelled) {
      process.stderr.write(
        command === 'grid' || command === 'train' || command === 'table' || command === 'drift-tables'
          ? 'cancelled; finished work is saved\n'
          : 'cancelled; no output was written\n',
      );
      if (argv.includes('--json')) process.stdout.write(JSON.stringify({ cancelled: true }) + '\n');
      return exitCodeOf(stopping ?? 'SIGINT');
    }
    if (isUserError(e)) {
      if (e instanceof FlagError) e.message += ` (\`sampler-studio ${command} --help\` lists its flags)`;
      process.stderr.write(`error: ${e.message}\n`);
      if (argv.includes('--json')) process.stdout.write(JSON.stringify({ error: e.message, kind: e.name }) + '\n');
      return 2;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

const isMain = process.argv[1] && /(?:cli[\\/]index\.ts|sampler-studio(?:\.js)?)$/.test(process.argv[1]);
if (isMain) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`internal error: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
