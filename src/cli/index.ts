// The Sampler Studio command line: `npm run cli -- <command> [flags]` or `sampler-studio <command>`.
// With --json the final line of stdout is the result object; progress goes to stderr (a bar on a
// TTY, JSON lines otherwise). Ctrl-C stops cleanly: nothing half-written is left behind.

import { ModelError } from '../main/engine/models/manifest';
import { SamplingCancelled } from '../main/engine/samplers/loop';
import { NpyError } from '../main/engine/io/npy';
import { USAGE, UsageError } from './common';
import { cmdModels } from './models-cmd';
import { cmdSample } from './sample';
import { cmdEval, cmdFeatures, cmdFid, cmdKid, cmdPrdc } from './metrics-cmd';
import { cmdGrid } from './grid-cmd';
import { cmdTrain } from './train-cmd';
import { cmdExport } from './export-cmd';
import { PolicyFileError } from '../main/engine/learner/onnx-policy';

export { UsageError };

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    process.stderr.write('\ninterrupted: stopping after the current step (Ctrl-C again to quit at once)\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    switch (command) {
      case 'models':
        await cmdModels(rest);
        break;
      case 'sample':
        await cmdSample(rest, controller.signal);
        break;
      case 'fid':
        await cmdFid(rest);
        break;
      case 'kid':
        await cmdKid(rest);
        break;
      case 'prdc':
        await cmdPrdc(rest);
        break;
      case 'features':
        await cmdFeatures(rest);
        break;
      case 'eval':
        await cmdEval(rest, controller.signal);
        break;
      case 'train':
        await cmdTrain(rest, controller.signal);
        break;
      case 'grid':
        await cmdGrid(rest, controller.signal);
        break;
      case 'export':
        await cmdExport(rest);
        break;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE + '\n');
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "${command}"; commands: models, sample, eval, grid, train, export, fid, kid, prdc, features (see --help)`);
    }
    return 0;
  } catch (e) {
    if (e instanceof SamplingCancelled) {
      process.stderr.write(command === 'grid' || command === 'train' ? 'cancelled; finished work is saved\n' : 'cancelled; no output was written\n');
      if (argv.includes('--json')) process.stdout.write(JSON.stringify({ cancelled: true }) + '\n');
      return 130;
    }
    if (e instanceof UsageError || e instanceof ModelError || e instanceof NpyError || e instanceof PolicyFileError || e instanceof RangeError) {
      process.stderr.write(`error: ${e.message}\n`);
      if (argv.includes('--json')) process.stdout.write(JSON.stringify({ error: e.message, kind: e.name }) + '\n');
      return 2;
    }
    if (e instanceof TypeError && String((e as { code?: string }).code).startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`error: ${e.message} (see --help)\n`);
      return 2;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
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
