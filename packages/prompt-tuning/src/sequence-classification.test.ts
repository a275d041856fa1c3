import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { getPeftModel, registerTuner, setWarningHandler, type PeftModel } from '@peftjs/core';
import { maxAbsDifference, perturbAdapter } from '@peftjs/core/testing';
import { modelFromConfig, sequenceClassificationLoss } from '@peftjs/models';
import { TINY_BERT } from './__fixtures__/tiny-models';
import { createPromptTuningConfig, pTuning, prefixTuning, promptTuning } from './index';

beforeAll(async () => {
  await tf.setBackend('wasm');
  for (const tuner of [promptTuning, pTuning, prefixTuning]) registerTuner(tuner);
  setWarningHandler(() => {});
});

const bert = () => modelFromConfig(TINY_BERT, 'sequence-classification', { seed: 4 });
const ids = [
  [1, 5, 9, 3, 2, 0],
  [1, 4, 6, 8, 2, 0],
];
const mask = [
  [1, 1, 1, 1, 1, 0],
  [1, 1, 1, 1, 1, 0],
];
const types = [
  [0, 0, 0, 1, 1, 1],
  [0, 0, 1, 1, 1, 1],
];
const inputs = () => [tf.tensor2d(ids, undefined, 'int32'), tf.tensor2d(mask), tf.tensor2d(types, undefined, 'int32')];

async function step(peftModel: PeftModel, labels: tf.Tensor, steps: number): Promise<number[]> {
  const optimizer = tf.train.adam(0.05);
  const variables = peftModel.model.trainableWeights.map((weight) => weight.read() as tf.Variable);
  const losses: number[] = [];
  const batch = inputs();
  for (let index = 0; index < steps; index++) {
    const loss = tf.tidy(() => optimizer.minimize(() => sequenceClassificationLoss(labels, peftModel.model.apply(batch, { training: true }) as tf.Tensor), true, variables)!);
    losses.push((await loss.data())[0]!);
    loss.dispose();
  }
  optimizer.dispose();
  tf.dispose(batch);
  return losses;
}

describe('sequence classification (BERT), as PeftModelForSequenceClassification', () => {
  it('prompt tuning: virtual tokens with token type 0 and mask 1, equal to the base model on those ids prepended', async () => {
    const virtual = [7, 3];
    const config = createPromptTuningConfig({
      taskType: 'SEQ_CLS',
      numVirtualTokens: 2,
      promptTuningInit: 'TEXT',
      promptTuningInitText: 'x',
      tokenizerNameOrPath: 't',
      tokenizer: () => virtual,
    });
    const peftModel = getPeftModel(bert(), config);
    const batch = inputs();
    const logits = peftModel.model.predict(batch) as tf.Tensor;
    expect(logits.shape).toEqual([2, 3]);
    const expected = tf.tidy(() =>
      peftModel.disableAdapter(
        () =>
          peftModel.model.predict([
            tf.tensor2d(
              ids.map((row) => [...virtual, ...row]),
              undefined,
              'int32',
            ),
            tf.tensor2d(mask.map((row) => [1, 1, ...row])),
            tf.tensor2d(
              types.map((row) => [0, 0, ...row]),
              undefined,
              'int32',
            ),
          ]) as tf.Tensor,
      ),
    );
    expect(await maxAbsDifference(logits, expected)).toBeLessThan(1e-5);
    tf.dispose([logits, expected, ...batch]);
    peftModel.unload();
  });

  it.each([
    ['prompt tuning', { peft_type: 'PROMPT_TUNING', num_virtual_tokens: 3, task_type: 'SEQ_CLS' }],
    ['P-tuning', { peft_type: 'P_TUNING', num_virtual_tokens: 3, task_type: 'SEQ_CLS', encoder_hidden_size: 8 }],
    ['prefix tuning', { peft_type: 'PREFIX_TUNING', num_virtual_tokens: 3, task_type: 'SEQ_CLS' }],
  ])('%s trains the prompt and the classifier (modules_to_save), and saves both as PEFT', async (_name, config) => {
    const peftModel = getPeftModel(bert(), config);
    const shapes = peftModel.getStateDictShapes();
    expect(Object.keys(shapes).sort()).toEqual(['base_model.classifier.bias', 'base_model.classifier.weight', 'prompt_embeddings']);
    expect(shapes['base_model.classifier.weight']).toEqual([3, 16]);
    const labels = tf.tensor1d([2, 0], 'int32');
    const reloadBase = bert();
    const before = tf.memory().numTensors;
    const losses = await step(peftModel, labels, 12);
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]! - 0.1);
    const names = [...peftModel.namedParameters().keys()].filter((name) => peftModel.namedParameters().get(name)!.variable.trainable);
    expect(names.some((name) => name.startsWith('classifier.modules_to_save.default.'))).toBe(true);
    expect(names.every((name) => name.startsWith('classifier.modules_to_save.') || /(prompt|p|prefix)_tuning_/.test(name))).toBe(true);

    await perturbAdapter(peftModel, 'default', 0.2, 4);
    const batch = inputs();
    const expected = peftModel.model.predict(batch) as tf.Tensor;
    const stateDict = peftModel.getStateDict();
    const reloaded = getPeftModel(reloadBase, { ...config, inference_mode: true });
    reloaded.loadStateDict(stateDict);
    const actual = reloaded.model.predict(batch) as tf.Tensor;
    expect(await maxAbsDifference(actual, expected)).toBeLessThan(1e-5);
    tf.dispose([actual, expected, ...batch, ...Object.values(stateDict)]);
    // (unload() would keep the trained classifier copy in the returned model, as merge_and_unload does.)
    reloaded.deleteAdapter('default');
    expect(tf.memory().numTensors).toBe(before);
    labels.dispose();
    peftModel.unload();
  });
});
