// The Fashion-MNIST model's preview picture: one row per class (0 T-shirt/top … 9 ankle boot), ten
// samples each, Heun 18 steps, fixed seed. `npm run models:preview -- [--guidance W]`.
//   resources/models/fashion-mnist/preview.png   (the app's Model screen and the README)

import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Model } from '../../src/main/engine/models/model';
import { resourcesDir } from '../../src/main/engine/models/registry';
import { generate, resolveSettings } from '../../src/main/engine/samplers/generate';
import { writePng } from '../../src/main/engine/io/png';
import { imageGrid } from '../../src/main/engine/pictures';

const { values } = parseArgs({ options: { guidance: { type: 'string' }, out: { type: 'string' } } });
const guidance = Number(values.guidance ?? 1);
const dir = join(resourcesDir(), 'models', 'fashion-mnist');
const model = await Model.load(dir, { device: 'cpu' });
try {
  const per = 10;
  const classes = Int32Array.from({ length: model.numClasses * per }, (_, i) => Math.floor(i / per));
  const n = classes.length;
  const res = await generate(model, resolveSettings(model, { sampler: 'heun', steps: 18, guidance }), {
    n,
    batch: n,
    seed: 0,
    classes,
  });
  const out = values.out ?? join(dir, 'preview.png');
  await writePng(out, imageGrid(res.samples, n, [1, 28, 28], { cols: per }));
  console.log(`${out}: ${model.numClasses} classes × ${per} samples, Heun 18 steps, w = ${guidance}`);
} finally {
  await model.dispose();
}
