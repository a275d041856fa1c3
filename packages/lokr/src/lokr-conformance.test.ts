import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll } from 'vitest';
import { registerTuner } from '@peftjs/core';
import { describeTunerConformance } from '@peftjs/core/testing';
import { describeConvReference, lycorisConformanceCases, lycorisConvInputs, lycorisConvNet, lycorisMlp, lycorisMlpInputs } from '@peftjs/lycoris/testing';
import * as tfl from '@tensorflow/tfjs-layers';
import { lokr } from './index';

/** Dense 16 → 32 → 4: wide enough that decompose_both with r=1 splits w1 too (max(a, c) / 2 = 2 > r). */
function wideMlp(): tfl.LayersModel {
  const x = tfl.input({ shape: [16] });
  const init = (seed: number) => tfl.initializers.randomNormal({ mean: 0, stddev: 0.3, seed });
  const h = tfl.layers.dense({ units: 32, activation: 'tanh', name: 'up', kernelInitializer: init(1), biasInitializer: init(2) }).apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: x, outputs: tfl.layers.dense({ units: 4, name: 'down', kernelInitializer: init(3) }).apply(h) as tfl.SymbolicTensor });
}
const wideInputs = () => tf.randomNormal([3, 16], 0, 1, 'float32', 5);

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(lokr);
});

describeTunerConformance(lokr, [
  ...lycorisConformanceCases(),
  {
    name: 'Dense, decompose_both (low-rank w1 and w2)',
    makeModel: wideMlp,
    makeInputs: wideInputs,
    config: { r: 1, alpha: 1, target_modules: ['up', 'down'], decompose_both: true },
  },
  { name: 'Dense, decompose_factor 2', makeModel: lycorisMlp, makeInputs: lycorisMlpInputs, config: { r: 8, target_modules: ['lin0', 'lin1'], decompose_factor: 2 } },
  {
    name: 'Conv2D, decompose_both + effective form + decompose_factor 4',
    makeModel: lycorisConvNet,
    makeInputs: lycorisConvInputs,
    config: { r: 1, target_modules: ['conv', 'conv1', 'pointwise'], decompose_both: true, use_effective_conv2d: true, decompose_factor: 4 },
  },
]);

describeConvReference(lokr);
