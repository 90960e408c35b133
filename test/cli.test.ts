// Tests for the command line: `main(argv)` in-process (stdout/stderr captured) for results and
// exit codes, and a spawned child process where the real process matters (exit code, SIGINT, SIGTERM).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { assertUsageError, cli, lastJson, spawnCli } from './helpers/cli';
import { encodeNpy, npyFloat32, readNpy, writeNpy } from '../src/main/engine/io/npy';
import { BUNDLED_IDS } from './helpers/bundled';

const tmp = mkdtempSync(join(tmpdir(), 'cli-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

let outCount = 0;
function outDir(): string {
  const d = join(tmp, `o${outCount++}`);
  mkdirSync(d);
  return d;
}

describe('models', () => {
  test('--json lists the nine bundled models', async () => {
    const r = await cli('models', '--json');
    assert.equal(r.code, 0, r.stderr);
    const res = lastJson(r.stdout) as {
      command: string;
      models: { id: string; bundled: boolean; error: string | null; shape: number[]; numClasses: number }[];
    };
    assert.equal(res.command, 'models');
    assert.deepEqual(
      res.models.map((m) => m.id),
      BUNDLED_IDS,
    );
    for (const m of res.models) {
      assert.equal(m.bundled, true);
      assert.equal(m.error, null, `${m.id}: ${m.error}`);
    }
    const byId = new Map(res.models.map((m) => [m.id, m]));
    assert.deepEqual(byId.get('gmm64')!.shape, [64]);
    assert.equal(byId.get('gmm-ring8')!.numClasses, 8);
    assert.equal(byId.get('swissroll')!.numClasses, 0);
    assert.deepEqual(byId.get('fashion-mnist')!.shape, [1, 28, 28]);
    assert.equal(byId.get('fashion-mnist')!.numClasses, 10);
  });

  test('a broken directory is listed with its error, a missing one is an error', async () => {
    const broken = outDir();
    writeFileSync(join(broken, 'model.json'), '{"name": "half');
    const r = await cli('models', '--json', '--model', broken);
    assert.equal(r.code, 0, r.stderr);
    const res = lastJson(r.stdout) as { models: { id: string; bundled: boolean; error: string | null }[] };
    assert.equal(res.models.length, BUNDLED_IDS.length + 1);
    const entry = res.models[BUNDLED_IDS.length]!;
    assert.equal(entry.bundled, false);
    assert.match(String(entry.error), /model\.json: is not valid JSON/);
    // A folder that is not a model (issue 15: `models --model ./src` printed a raw ENOENT).
    const notModel = outDir();
    const plain = await cli('models', '--model', notModel);
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(
      plain.stdout,
      /BROKEN: .* is not a model directory: it has no model\.json \(a model directory holds a model\.json manifest/,
    );
    assert.doesNotMatch(plain.stdout, /ENOENT/);

    const human = await cli('models');
    assert.equal(human.code, 0);
    for (const id of BUNDLED_IDS) assert.match(human.stdout, new RegExp(`^${id} `, 'm'));

    assertUsageError(
      await cli('models', '--model', join(tmp, 'nowhere')),
      /no model ".*nowhere": not a bundled model \(fashion-mnist, gmm-ring8, gmm-ring8-exact, gmm1d-a, gmm1d-b, gmm64, swissroll, swissroll-a, swissroll-b\) nor an existing directory/,
    );
  });
});

describe('sample', () => {
  test('writes samples, labels and a grid, and reports a JSON result', async () => {
    const d = outDir();
    const out = join(d, 's.npy');
    const grid = join(d, 'g.png');
    const r = await cli('sample', '--model', 'gmm-ring8-exact', '--n', '64', '--out', out, '--grid', grid, '--json');
    assert.equal(r.code, 0, r.stderr);
    const res = lastJson(r.stdout) as Record<string, unknown> & {
      nfe: { mean: number; min: number; max: number };
      settings: { sampler: string; steps: number };
    };
    assert.equal(res.command, 'sample');
    assert.equal(res.model, 'gmm-ring8-exact');
    assert.equal(res.n, 64);
    assert.equal(res.out, out);
    assert.equal(res.grid, grid);
    assert.equal(res.settings.sampler, 'heun');
    assert.equal(res.settings.steps, 18);
    assert.deepEqual(res.nfe, { mean: 35, min: 35, max: 35 });
    // Progress went to stderr as JSON lines (not a TTY here).
    const events = r.stderr
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as { type: string });
    assert.ok(events.some((e) => e.type === 'progress'));

    const samples = await readNpy(out);
    assert.equal(samples.dtype, 'float32');
    assert.deepEqual(samples.shape, [64, 2]);
    const xs = samples.data as Float32Array;
    assert.ok(xs.every(Number.isFinite));
    // The ring has radius 2: the median radius of the samples is near it.
    const radii = Array.from({ length: 64 }, (_, i) => Math.hypot(xs[2 * i], xs[2 * i + 1])).sort((a, b) => a - b);
    assert.ok(Math.abs(radii[32] - 2) < 0.3, `median radius ${radii[32]}`);

    assert.equal(res.labels, join(d, 's.labels.npy'));
    const labels = await readNpy(join(d, 's.labels.npy'));
    assert.equal(labels.dtype, 'int64');
    assert.deepEqual(labels.shape, [64]);
    assert.ok(Array.from(labels.data as BigInt64Array).every((c) => c >= 0n && c < 8n));

    const png = readFileSync(grid);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    // Nothing but the three outputs (no temp files left by the atomic writes).
    assert.deepEqual(readdirSync(d).sort(), ['g.png', 's.labels.npy', 's.npy']);
  });

  test('--init-noise is deterministic and its shape is checked', async () => {
    const d = outDir();
    const n = 40;
    const noise = Float32Array.from({ length: n * 2 }, (_, i) => Math.sin(i * 1.7) * 1.3);
    await writeNpy(join(d, 'z.npy'), npyFloat32([n, 2], noise));
    const run = async (name: string, z: string, ...extra: string[]): Promise<Float32Array> => {
      const r = await cli(
        'sample',
        '--model',
        'gmm-ring8',
        '--init-noise',
        join(d, z),
        '--class',
        '3',
        '--out',
        join(d, name),
        '--json',
        ...extra,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(lastJson(r.stdout).n, n);
      const a = await readNpy(join(d, name));
      assert.deepEqual(a.shape, [n, 2]);
      return a.data as Float32Array;
    };
    const a = await run('a.npy', 'z.npy');
    const b = await run('b.npy', 'z.npy', '--batch', '7', '--seed', '99');
    assert.deepEqual(b, a, 'same noise, same samples (deterministic sampler)');
    await writeNpy(
      join(d, 'z2.npy'),
      npyFloat32(
        [n, 2],
        noise.map((v) => -v),
      ),
    );
    const c = await run('c.npy', 'z2.npy');
    assert.notDeepEqual(c, a, 'the noise file is what drives the samples');

    await writeNpy(join(d, 'bad.npy'), npyFloat32([n, 3], new Float32Array(n * 3)));
    const bad = await cli(
      'sample',
      '--model',
      'gmm-ring8',
      '--init-noise',
      join(d, 'bad.npy'),
      '--out',
      join(d, 'x.npy'),
    );
    assertUsageError(bad, /bad\.npy: has shape \[40, 3\], expected \[n, 2\]/);
    await writeNpy(join(d, 'flat.npy'), npyFloat32([n * 2], noise));
    assertUsageError(
      await cli('sample', '--model', 'gmm-ring8', '--init-noise', join(d, 'flat.npy'), '--out', join(d, 'x.npy')),
      /has shape \[80\], expected \[n, 2\]/,
    );
    assertUsageError(
      await cli(
        'sample',
        '--model',
        'gmm-ring8',
        '--init-noise',
        join(d, 'z.npy'),
        '--n',
        '8',
        '--out',
        join(d, 'x.npy'),
      ),
      /--n 8 disagrees with .*z\.npy, which holds 40 samples/,
    );
    writeFileSync(join(d, 'junk.npy'), 'not numpy');
    assertUsageError(
      await cli('sample', '--model', 'gmm-ring8', '--init-noise', join(d, 'junk.npy'), '--out', join(d, 'x.npy')),
      /not a \.npy file/,
    );
    assertUsageError(
      await cli('sample', '--model', 'gmm-ring8', '--init-noise', join(d, 'missing.npy'), '--out', join(d, 'x.npy')),
      /missing\.npy: file not found/,
    );
    assert.ok(!existsSync(join(d, 'x.npy')));
  });

  for (const sampler of [['heun'], ['edm', '--churn', '20']]) {
    test(`--seed gives the same samples whatever --batch (${sampler.join(' ')})`, async () => {
      const d = outDir();
      const run = async (name: string, ...extra: string[]): Promise<[Float32Array, BigInt64Array]> => {
        const r = await cli(
          'sample',
          '--model',
          'gmm-ring8',
          '--n',
          '64',
          '--sampler',
          ...sampler,
          '--out',
          join(d, name),
          '--json',
          ...extra,
        );
        assert.equal(r.code, 0, r.stderr);
        const labels = (await readNpy(join(d, name.replace('.npy', '.labels.npy')))).data as BigInt64Array;
        return [(await readNpy(join(d, name))).data as Float32Array, labels];
      };
      const [x7, l7] = await run('b7.npy', '--seed', '5', '--batch', '7');
      const [x64, l64] = await run('b64.npy', '--seed', '5', '--batch', '64');
      assert.deepEqual(l7, l64);
      assert.deepEqual(x7, x64);
      const [x6, l6] = await run('s6.npy', '--seed', '6', '--batch', '64');
      assert.notDeepEqual(x6, x64);
      assert.notDeepEqual(l6, l64);
    });
  }

  test('bad flags are usage errors (exit 2, a message, no stack trace, no output)', async () => {
    const d = outDir();
    const out = join(d, 'x.npy');
    const cases: [string[], RegExp][] = [
      [
        ['--model', 'gmm-ring8', '--sampler', 'plms'],
        /--sampler must be one of euler, heun, edm, ddim, restart, euler-maruyama, got "plms"/,
      ],
      [['--model', 'gmm-ring8', '--steps', '0'], /--steps must be a whole number in \[1, 1000\], got 0/],
      [['--model', 'gmm-ring8', '--steps', '2.5'], /--steps must be a whole number in \[1, 1000\], got 2\.5/],
      [['--model', 'gmm-ring8', '--n', 'many'], /--n must be a number, got "many"/],
      [
        ['--model', 'gmm-ring8', '--bogus', '1'],
        /unknown flag --bogus \(`sampler-studio sample --help` lists its flags\)/,
      ],
      // A misspelt flag gets the nearest one (issue 15): a swap, a missing letter, a prefix.
      [
        ['--model', 'gmm-ring8', '--gudiance', '2'],
        /unknown flag --gudiance; did you mean --guidance\? \(`sampler-studio sample --help`/,
      ],
      [['--model', 'gmm-ring8', '--chrn', '2'], /unknown flag --chrn; did you mean --churn\?/],
      [
        ['--model', 'gmm-ring8', '--guidance-int', '2:0:1'],
        /unknown flag --guidance-int; did you mean --guidance-interval\?/,
      ],
      [
        ['--model', 'gmm-ring8', '--n'],
        /--n needs a value, and the next word is a flag \(for a value starting with "-", write --n=-1\)/,
      ],
      [['--model', 'gmm-ring8', '--json=1'], /--json takes no value/],
      [['--model', 'gmm-ring8', 'extra'], /unexpected argument "extra": every value goes after its flag/],
      [
        ['--model', 'gmm-ring8', '--guidance-interval', '2:0.28:2.9', '--guidance-interval', '3:0:inf'],
        /--guidance-interval is given 2 times \(2:0\.28:2\.9, then 3:0:inf\); give it once/,
      ],
      [['--model', 'gmm-ring8', '--class', '99'], /class 99 is out of range; this model has classes 0\.\.7/],
      [
        ['--model', 'swissroll', '--guidance', '2'],
        /guidance needs a class-conditional model; this one is unconditional/,
      ],
      [['--model', 'swissroll', '--class', '1'], /this model is unconditional; it takes no --class/],
      [['--model', 'gmm-ring8', '--sigma-max', '500'], /σ range \[0\.002, 500\] is outside the model's \[0\.002, 80\]/],
      [
        ['--model', 'gmm-ring8', '--sampler', 'ddim', '--churn', '5'],
        /churn applies to the euler, heun and edm samplers, not ddim/,
      ],
      [['--model', 'gmm-ring8', '--device', 'tpu'], /--device must be auto, cpu or cuda, got "tpu"/],
    ];
    for (const [args, message] of cases) {
      const r = await cli('sample', ...args, '--out', out);
      assertUsageError(r, message);
      assert.ok(!existsSync(out), `${args.join(' ')} left ${out}`);
    }
    assertUsageError(await cli('sample', '--model', 'gmm-ring8'), /sample needs --out samples\.npy/);
    assertUsageError(await cli('sample', '--out', out), /sample needs --model/);
    assertUsageError(await cli('frobnicate'), /unknown command "frobnicate" \(commands: models, sample/);
    assertUsageError(await cli('sampel'), /unknown command "sampel"; did you mean sample\?/);
    assert.deepEqual(readdirSync(d), []);

    // With --json the final stdout line is an error object.
    const j = await cli('sample', '--model', 'gmm-ring8', '--steps', '0', '--out', out, '--json');
    assertUsageError(j, /--steps must be a whole number in \[1, 1000\]/);
    const obj = lastJson(j.stdout);
    assert.match(String(obj.error), /--steps must be a whole number in \[1, 1000\]/);

    // Found in review: outputs that cannot be written, non-finite noise, CUDA asked for but absent.
    assertUsageError(
      await cli('sample', '--model', 'gmm-ring8', '--out', d),
      /--out .* is a directory; give a file name/,
    );
    // Issue 15: `--out x.png` wrote a NumPy array into x.png, and a missing folder was created silently.
    assertUsageError(
      await cli('sample', '--model', 'gmm-ring8', '--out', join(d, 'x.png')),
      /--out .*x\.png: this file is written as \.npy; give a name ending in \.npy \(for a picture of the samples add --grid NAME\.png\)/,
    );
    assertUsageError(
      await cli('sample', '--model', 'gmm-ring8', '--out', out, '--grid', join(d, 'g.jpg')),
      /--grid .*g\.jpg: this file is written as \.png/,
    );
    const nowhere = join(d, 'no-such-folder');
    assertUsageError(
      await cli('sample', '--model', 'gmm-ring8', '--out', join(nowhere, 'x.npy')),
      /--out .*x\.npy: the folder .*no-such-folder does not exist; create it first/,
    );
    assertUsageError(
      await cli('sample', '--model', 'gmm-ring8', '--out', out, '--grid', join(nowhere, 'g.png')),
      /--grid .*g\.png: the folder .*no-such-folder does not exist/,
    );
    assert.ok(!existsSync(nowhere), 'a folder was created for a file');
    const nanNoise = join(d, 'nan-noise.npy');
    const z = new Float32Array(8).fill(0.5);
    z[5] = NaN;
    writeFileSync(nanNoise, encodeNpy(npyFloat32([4, 2], z)));
    assertUsageError(
      await cli('sample', '--model', 'gmm-ring8', '--init-noise', nanNoise, '--out', out),
      /holds NaN\/Inf \(first at sample 2\)/,
    );
    rmSync(nanNoise);
    const cuda = await cli('sample', '--model', 'gmm-ring8', '--device', 'cuda', '--out', out);
    assertUsageError(cuda, /could not start ONNX Runtime's CUDA provider.*use --device cpu/);
    assert.ok(!existsSync(out));

    // Each command's --help is its own, with defaults (issue 15: they all printed the overview).
    for (const [cmd, want] of [
      ['sample', /--n N \(64\)[\s\S]*--steps N .*\(default 18\)/],
      ['eval', /--n N \(2048\)[\s\S]*--metrics LIST \(fid,kid,precision,recall,density,coverage[\s\S]*--sampler /],
      ['grid', /--axis NAME=[\s\S]*--metric fid\|kid.* \(fid\)[\s\S]*--guidance X/],
      ['export', /--recipe \[--out recipe\.json\] \[--n N \(1024\)\]/],
      ['models', /models \[--model DIR\]/],
      ['fid', /fid --a A\.npy/],
      ['kid', /--subsets K \(100\)/],
      ['prdc', /--k K \(3\)\] \[--k-dc K \(5\)\]/],
      ['features', /--batch B \(256\)/],
      ['train', /--intervention cfg\|gamma\|renoise .*\(default cfg\)/],
      ['table', /Spec \(JSON\)/],
    ] as const) {
      const h = await cli(cmd, '--help');
      assert.equal(h.code, 0, cmd);
      assert.match(h.stdout, want, `${cmd} --help`);
      assert.doesNotMatch(h.stdout, /Usage: sampler-studio <command>/, `${cmd} --help printed the overview`);
    }
    // Every command has a section of its own in the help (a command added to index.ts without one fails here).
    const { COMMAND_LIST } = await import('../src/cli/index');
    const { COMMAND_NAMES } = await import('../src/cli/usage');
    assert.deepEqual([...COMMAND_NAMES].sort(), [...COMMAND_LIST].sort());

    // No command: usage on stdout and exit 2; --help: exit 0.
    const none = await cli();
    assert.equal(none.code, 2);
    assert.match(none.stdout, /Usage: sampler-studio <command>/);
    assert.equal((await cli('--help')).code, 0);
  });

  test('a model directory that does not exist, or is broken, is a clear error', async () => {
    const d = outDir();
    const out = join(d, 'x.npy');
    assertUsageError(
      await cli('sample', '--model', join(d, 'no-such-model'), '--out', out),
      /no model ".*no-such-model": not a bundled model \(fashion-mnist, gmm-ring8, gmm-ring8-exact, gmm1d-a, gmm1d-b, gmm64, swissroll, swissroll-a, swissroll-b\) nor an existing directory/,
    );
    assertUsageError(await cli('sample', '--model', 'no-such-id', '--out', out), /no model "no-such-id"/);
    const empty = join(d, 'empty');
    mkdirSync(empty);
    assertUsageError(
      await cli('sample', '--model', empty, '--out', out),
      /empty is not a model directory: it has no model\.json/,
    );
    const broken = join(d, 'broken');
    mkdirSync(broken);
    writeFileSync(join(broken, 'model.json'), JSON.stringify({ name: 'b', onnx: 'm.onnx', shape: [2] }));
    assertUsageError(await cli('sample', '--model', broken, '--out', out), /m\.onnx: not found/);
    assert.ok(!existsSync(out));
  });
});

describe('bounds (issue 13)', () => {
  test('run-size flags that are not settings are bounded too, each error naming its flag', async () => {
    const d = outDir();
    const out = join(d, 'x.npy');
    const feats = join(d, 'f.npy');
    const curveFile = join(d, 'g.json');
    writeFileSync(curveFile, JSON.stringify({ parameter: 'guidance', points: [{ sigma: 1, value: 2 }] }));
    writeFileSync(
      feats,
      encodeNpy(
        npyFloat32(
          [8, 2],
          Float32Array.from({ length: 16 }, (_, i) => Math.sin(i)),
        ),
      ),
    );
    const cases: [string[], RegExp][] = [
      [
        ['sample', '--model', 'gmm-ring8', '--n', '1e12', '--out', out],
        /^error: --n must be a whole number in \[1, 1000000\], got 1e12$/m,
      ],
      [
        ['sample', '--model', 'gmm-ring8', '--batch', '1e12', '--out', out],
        /--batch must be a whole number in \[1, 65536\]/,
      ],
      [
        ['sample', '--model', 'gmm-ring8', '--seed', '1e300', '--out', out],
        /--seed must be a whole number in \[0, 4294967295\]/,
      ],
      [['eval', '--model', 'gmm-ring8', '--n', '1e12'], /--n must be a whole number in \[2, 100000\]/],
      [
        ['eval', '--model', 'gmm-ring8', '--kid-subsets', '1e12'],
        /--kid-subsets must be a whole number in \[1, 10000\]/,
      ],
      [
        ['eval', '--model', 'gmm-ring8', '--baseline', 'equal-nfe', '--nfe', '1e9'],
        /--nfe must be a whole number in \[1, 1999\]/,
      ],
      // A flag changing a setting the baseline makes is refused, not laid over it under the baseline's name.
      [
        ['eval', '--model', 'gmm-ring8', '--baseline', 'no-guidance', '--guidance-interval', '2:0.28:2.9'],
        /--baseline no-guidance sets guidance = 1, and --guidance-interval 2:0\.28:2\.9 changes it: drop the flag to sample the baseline as it is, or drop --baseline no-guidance/,
      ],
      [
        ['eval', '--model', 'gmm-ring8', '--baseline', 'equal-nfe', '--nfe', '20', '--steps', '18'],
        /--baseline equal-nfe sets steps = 10, and --steps 18 changes it/,
      ],
      [
        ['eval', '--model', 'gmm-ring8', '--baseline', 'no-guidance', '--guidance-curve', curveFile],
        /--baseline no-guidance sets guidance-curve to none, and --guidance-curve .*g\.json changes it/,
      ],
      [
        ['grid', '--model', 'gmm-ring8', '--axis', 'guidance=1,2', '--out', d, '--n', '1e12'],
        /--n must be a whole number in \[2, 100000\]/,
      ],
      [
        ['kid', '--real', feats, '--fake', feats, '--subsets', '1e12'],
        /--subsets must be a whole number in \[1, 10000\]/,
      ],
      [['prdc', '--real', feats, '--fake', feats, '--k', '1e12'], /--k must be a whole number in \[1, 1000\]/],
      [
        ['features', '--model', 'gmm-ring8', '--in', feats, '--out', out, '--batch', '1e12'],
        /--batch must be a whole number in \[1, 65536\]/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = await cli(...args);
      assertUsageError(r, message);
      assert.doesNotMatch(r.stderr, /Invalid typed array length/, args.join(' '));
    }
    assert.ok(!existsSync(out));
  });

  test('features: NaN/Inf input rows are named as the input’s fault, not the extractor’s', async () => {
    const d = outDir();
    const nan = join(d, 'nanrows.npy');
    writeFileSync(nan, encodeNpy(npyFloat32([4, 2], Float32Array.of(1, 2, NaN, 1, 0, 0, 3, Infinity))));
    for (const model of ['gmm-ring8', 'swissroll']) {
      const r = await cli('features', '--model', model, '--in', nan, '--out', join(d, 'f.npy'));
      assertUsageError(
        r,
        /nanrows\.npy: 2 of its 4 rows hold NaN\/Inf \(the first is row 1\); features need finite samples/,
      );
      assert.doesNotMatch(r.stderr, /features\.onnx|extractor/);
    }
    assert.ok(!existsSync(join(d, 'f.npy')));
    // Integer rows are samples too (int64 once threw "Cannot convert a BigInt value to a number").
    const ints = join(d, 'ints.npy');
    writeFileSync(ints, encodeNpy({ dtype: 'int64', shape: [2, 2], data: BigInt64Array.of(1n, 2n, -1n, 0n) }));
    const r = await cli('features', '--model', 'gmm-ring8', '--in', ints, '--out', join(d, 'f.npy'));
    assert.equal(r.code, 0, r.stderr);
  });
});

describe('the CLI as a process', () => {
  test('usage errors exit with code 2 and no stack trace', async () => {
    const [unknown, missing] = await Promise.all([
      spawnCli(['sample', '--model', 'gmm-ring8', '--out', join(tmp, 'never.npy'), '--wat']),
      spawnCli(['sample', '--model', join(tmp, 'absent-dir'), '--out', join(tmp, 'never.npy'), '--json']),
    ]);
    assertUsageError(unknown, /unknown flag --wat \(`sampler-studio sample --help` lists its flags\)/);
    assertUsageError(missing, /no model ".*absent-dir"/);
    assert.match(lastJson(missing.stdout).error as string, /absent-dir/);
    assert.ok(!existsSync(join(tmp, 'never.npy')));
  });

  for (const [signal, code, said] of [
    ['SIGINT', 130, /interrupted: stopping after the current step \(Ctrl-C again/],
    ['SIGTERM', 143, /terminated: stopping after the current step \(SIGTERM again/],
  ] as const)
    test(`${signal} during a long run exits ${code}, says cancelled and writes nothing`, async () => {
      const d = outDir();
      const out = join(d, 'big.npy');
      const started = Date.now();
      let sent = false;
      const r = await spawnCli(
        [
          'sample',
          '--model',
          'gmm64',
          '--n',
          '200000',
          '--batch',
          '1000',
          '--out',
          out,
          '--grid',
          join(d, 'g.png'),
          '--json',
        ],
        (stderr, child) => {
          // Interrupt once sampling is under way (a progress event), and no sooner than 1.5 s in.
          if (sent || !stderr.includes('"type":"progress"')) return;
          sent = true;
          setTimeout(() => child.kill(signal), Math.max(0, 1500 - (Date.now() - started)));
        },
      );
      assert.ok(sent, `sampling never started: ${r.stderr.slice(-500)}`);
      assert.equal(r.signal, null, `the process handles ${signal} itself`);
      assert.equal(r.code, code, r.stderr.slice(-500));
      assert.match(r.stderr, said);
      assert.match(r.stderr, /cancelled; no output was written/);
      assert.doesNotMatch(r.stderr, /\n\s+at .*:\d+:\d+/);
      assert.deepEqual(JSON.parse(r.stdout.trim()), { cancelled: true }, 'with --json the final line says cancelled');
      assert.deepEqual(readdirSync(d), [], 'no output, grid or temp file');
    });
});
