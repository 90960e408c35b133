// The Fashion-MNIST model's preview picture: one row per class (0 T-shirt/top … 9 ankle boot, the
// names kept in the PNG for the app's labels), ten samples each,
// Heun 18 steps, fixed seed. `npm run models:preview -- [--guidance W]`.
//   resources/models/fashion-mnist/preview.png   (the app's Model screen and the README)

import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Model } from '../../src/main/engine/models/model';
import { resourcesDir } from '../../src/main/engine/models/registry';
import { generate, resolveSettings } from '../../src/main/engine/samplers/generate';
import { writeSamplePlot } from '../../src/main/engine/pictures';
import { CLASS_COLS } from '../../src/shared/grid-layout';

const { values } = parseArgs({ options: { guidance: { type: 'string' }, out: { type: 'string' } } });
const guidance = Number(values.guidance ?? 1);
const dir = join(resourcesDir(), 'models', 'fashion-mnist');
const model = await Model.load(dir, { device: 'cpu' });
try {
  const per = CLASS_COLS; // the class-row grid of every sample picture (shared/grid-layout.ts)
  const classes = Int32Array.from({ length: model.numClasses * per }, (_, i) => Math.floor(i / per));
  const n = classes.length;
  const res = await generate(model, resolveSettings(model, { sampler: 'heun', steps: 18, guidance }), {
    n,
    batch: n,
    seed: 0,
    classes,
  });
  const out = values.out ?? join(dir, 'preview.png');
  await writeSamplePlot(model, out, res.samples, classes, n); // rows labelled with the class names
  console.log(`${out}: ${model.numClasses} classes × ${per} samples, Heun 18 steps, w = ${guidance}`);
} finally {
  await model.dispose();
}
