import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, expect, it } from 'vitest';
import { getPeftModel, registerTuner, setModelInfo } from '@peftjs/core';
import { describeTunerConformance } from '@peftjs/core/testing';
import { outputScale } from './index';

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(outputScale);
});

function mlp(): tfl.LayersModel {
  const initializer = (seed: number) => tfl.initializers.randomNormal({ mean: 0, stddev: 0.5, seed });
  return tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 8, inputShape: [6], activation: 'relu', name: 'lin0', kernelInitializer: initializer(1), biasInitializer: initializer(2) }),
      tfl.layers.dense({ units: 8, activation: 'relu', name: 'lin1', kernelInitializer: initializer(3), biasInitializer: initializer(4) }),
      tfl.layers.dense({ units: 3, name: 'lin2', kernelInitializer: initializer(5), biasInitializer: initializer(6) }),
    ],
  });
}

/** The same MLP, described as model type `toy-mlp`, whose default targets the tuner's own table gives. */
function describedMlp(): tfl.LayersModel {
  const model = mlp();
  setModelInfo(model, { modelType: 'toy-mlp' });
  return model;
}

describeTunerConformance(outputScale, [
  { name: "MLP, default targets from the tuner's own table", makeModel: describedMlp, makeInputs: () => tf.randomNormal([4, 6], 0, 1, 'float32', 5), config: {} },
  { name: 'MLP, two targets', makeModel: mlp, makeInputs: () => tf.randomNormal([4, 6], 0, 1, 'float32', 3), config: { target_modules: ['lin0', 'lin1'] } },
  {
    name: 'MLP, regex target + modules_to_save',
    makeModel: mlp,
    makeInputs: () => tf.randomNormal([4, 6], 0, 1, 'float32', 4),
    config: { target_modules: 'lin[01]', modules_to_save: ['lin2'] },
  },
]);

it("fills target_modules from the tuner's own table, and the user's list wins over it", () => {
  const fromTable = getPeftModel(describedMlp(), { peft_type: 'OUTPUT_SCALE' });
  expect(fromTable.targetedModuleNames).toEqual(['lin0', 'lin1']);
  const explicit = getPeftModel(describedMlp(), { peft_type: 'OUTPUT_SCALE', target_modules: ['lin1'] });
  expect(explicit.targetedModuleNames).toEqual(['lin1']);
  fromTable.model.dispose();
  explicit.model.dispose();
});
