import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { getPeftModel, registerTuner } from '@peftjs/core';
import { maxAbsDifference, perturbAdapter } from '@peftjs/core/testing';
import { lycorisConvInputs, lycorisConvNet } from '@peftjs/lycoris/testing';
import { lora } from '@peftjs/lora';
import { loha } from './index';

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(loha);
  registerTuner(lora);
});

async function roundTrip(model: tfl.LayersModel): Promise<tfl.LayersModel> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (saved) => {
      artifacts = saved;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return tfl.loadLayersModel(tf.io.fromMemory(artifacts!));
}

describe('LoHa layers in tfjs model files', () => {
  it('a mixed model (LoHa wrapping LoRA) saves and loads with its nested layers', async () => {
    const peftModel = getPeftModel(lycorisConvNet(), { peft_type: 'LORA', r: 2, target_modules: ['conv1', 'head'] }, { mixed: true, adapterName: 'lora' });
    peftModel.addAdapter('loha', { peft_type: 'LOHA', r: 2, target_modules: ['conv', 'conv1'] });
    peftModel.setAdapter(['lora', 'loha']);
    await perturbAdapter(peftModel, 'lora');
    await perturbAdapter(peftModel, 'loha');
    const inputs = lycorisConvInputs();
    const expected = peftModel.model.predict(inputs) as tf.Tensor;
    const loaded = await roundTrip(peftModel.model);
    const output = loaded.predict(inputs) as tf.Tensor;
    expect(await maxAbsDifference(output, expected)).toBeLessThan(1e-5);
    tf.dispose([inputs, expected, output]);
  });

  it('a model with LoHa layers (Dense, Conv2D, effective form) saves with model.save and loads with loadLayersModel', async () => {
    const peftModel = getPeftModel(lycorisConvNet(), { peft_type: 'LOHA', r: 2, target_modules: ['conv', 'conv1', 'head'], use_effective_conv2d: true });
    await perturbAdapter(peftModel, 'default');
    const inputs = lycorisConvInputs();
    const expected = peftModel.model.predict(inputs) as tf.Tensor;
    let artifacts: tf.io.ModelArtifacts | undefined;
    await peftModel.model.save(
      tf.io.withSaveHandler(async (saved) => {
        artifacts = saved;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(artifacts!));
    expect(loaded.layers.map((layer) => layer.getClassName())).toContain('LohaConv2D');
    const output = loaded.predict(inputs) as tf.Tensor;
    expect(await maxAbsDifference(output, expected)).toBeLessThan(1e-5);
    tf.dispose([inputs, expected, output]);
  });
});
