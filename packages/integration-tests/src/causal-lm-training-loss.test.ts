import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { getPeftModel, registerTuner, setWarningHandler } from '@peftjs/core';
import { createLoraConfig, lora } from '@peftjs/lora';
import { initBackend } from '@peftjs/runtime';
import {
  AutoModelForCausalLM,
  causalLmLoss,
  causalLmTrainingLoss,
  chunkedCrossEntropy,
  FrozenLinear,
  IGNORE_INDEX,
  layerProjection,
  lossChunkRows,
  setGradientCheckpointing,
  weightProjection,
} from '@peftjs/models';
import { loadPeftCase } from '../../../test-fixtures/peft-case';
import { TINY_GPT2, TINY_LLAMA } from '../../../test-fixtures/tiny-configs';

const BACKENDS = ['cpu', 'wasm'] as const;

beforeAll(async () => {
  registerTuner(lora);
  setWarningHandler(() => {});
  await initBackend({ backend: 'wasm' });
  await tf.setBackend('cpu');
});

async function maxDifference(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const difference = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))));
  const value = (await difference.data())[0]!;
  difference.dispose();
  return value;
}

/** Loss and gradients of the trainable variables, through `loss`. */
function lossAndGradients(variables: tf.Variable[], loss: () => tf.Scalar): { value: tf.Scalar; grads: tf.Tensor[] } {
  const { value, grads } = tf.variableGrads(loss, variables);
  return { value, grads: variables.map((variable) => grads[variable.name]!) };
}

function batch(): { ids: tf.Tensor2D; mask: tf.Tensor2D; labels: tf.Tensor2D } {
  const ids = tf.tensor2d(
    [
      [1, 5, 9, 13, 17, 21, 25],
      [3, 7, 11, 15, 19, 23, 27],
    ],
    [2, 7],
    'int32',
  );
  const mask = tf.tensor2d(
    [
      [1, 1, 1, 1, 1, 1, 1],
      [1, 1, 1, 1, 1, 0, 0],
    ],
    [2, 7],
  );
  const labels = tf.tensor2d(
    [
      [1, 5, 9, IGNORE_INDEX, 17, 21, 25],
      [3, 7, 11, 15, 19, IGNORE_INDEX, IGNORE_INDEX],
    ],
    [2, 7],
    'int32',
  );
  return { ids, mask, labels };
}

describe.each(BACKENDS)('chunkedCrossEntropy on %s', (backend) => {
  it('equals logSoftmax over full logits, value and row gradient, for any chunk size', async () => {
    await tf.setBackend(backend);
    const rows = tf.randomNormal([7, 6], 0, 1, 'float32', 1) as tf.Tensor2D;
    const weight = tf.randomNormal([11, 6], 0, 1, 'float32', 2);
    const labels = tf.tensor1d([3, IGNORE_INDEX, 0, 10, 5, IGNORE_INDEX, 7], 'int32');
    const before = tf.memory().numTensors;
    // causalLmLoss scores logits[t] against labels[t + 1]: a label column in front, a logits row behind.
    const reference = (x: tf.Tensor) =>
      causalLmLoss(tf.reshape(tf.concat([tf.zeros([1], 'int32'), labels]), [1, 8]), tf.reshape(tf.concat([tf.matMul(x, weight, false, true), tf.zeros([1, 11])]), [1, 8, 11]));
    const expected = tf.valueAndGrad(reference)(rows);
    for (const chunkRows of [1, 3, 7, 100]) {
      const actual = tf.valueAndGrad((x: tf.Tensor) => chunkedCrossEntropy(x as tf.Tensor2D, labels, weightProjection(weight, 'vocab-major'), { chunkRows }))(rows);
      expect(await maxDifference(actual.value, expected.value)).toBeLessThan(1e-5);
      expect(await maxDifference(actual.grad, expected.grad)).toBeLessThan(1e-6);
      tf.dispose([actual.value, actual.grad]);
    }
    // A Dense-layout kernel with a bias gives the same as the explicit composition.
    const bias = tf.randomNormal([11], 0, 1, 'float32', 3);
    const withBias = tf.valueAndGrad((x: tf.Tensor) =>
      chunkedCrossEntropy(x as tf.Tensor2D, labels, weightProjection(tf.transpose(weight), 'hidden-major', bias), { chunkRows: 2 }),
    )(rows);
    const biasReference = tf.valueAndGrad((x: tf.Tensor) =>
      causalLmLoss(
        tf.reshape(tf.concat([tf.zeros([1], 'int32'), labels]), [1, 8]),
        tf.reshape(tf.concat([tf.add(tf.matMul(x, weight, false, true), bias), tf.zeros([1, 11])]), [1, 8, 11]),
      ),
    )(rows);
    expect(await maxDifference(withBias.value, biasReference.value)).toBeLessThan(1e-5);
    expect(await maxDifference(withBias.grad, biasReference.grad)).toBeLessThan(1e-6);
    tf.dispose([expected.value, expected.grad, withBias.value, withBias.grad, biasReference.value, biasReference.grad, bias]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([rows, weight, labels]);
  });
});

it('the default loss chunk is at least 256 rows (thin chunks re-read the head) and at least 4 M logits', () => {
  expect(lossChunkRows(151_936)).toBe(256); // Qwen2: 4 M logits would be 27 rows
  expect(lossChunkRows(49_152)).toBe(256);
  expect(lossChunkRows(128)).toBe(32_768);
  expect(lossChunkRows(0)).toBe(4_194_304);
});

const MODELS: Array<[string, Record<string, unknown>, string[]]> = [
  ['llama (untied head)', TINY_LLAMA, ['q_proj', 'v_proj']],
  ['llama (tied head)', { ...TINY_LLAMA, tie_word_embeddings: true }, ['q_proj', 'v_proj', 'down_proj']],
  ['gpt2 (tied head)', TINY_GPT2, ['c_attn']],
];

describe.each(BACKENDS)('causalLmTrainingLoss on %s', (backend) => {
  it.each(MODELS)('%s + LoRA: the loss and LoRA gradients of model.apply + causalLmLoss, with and without checkpointing', async (_name, config, targets) => {
    await tf.setBackend(backend);
    const base = AutoModelForCausalLM.fromConfig(config, { seed: 3 });
    const peft = getPeftModel(base, createLoraConfig({ r: 4, loraAlpha: 8, targetModules: targets, initLoraWeights: false }));
    const model = peft.model as LayersModel;
    const variables = model.trainableWeights.map((weight) => weight.read() as tf.Variable);
    expect(variables.length).toBe(targets.length * 2 * (config.model_type === 'gpt2' ? (config.n_layer as number) : (config.num_hidden_layers as number)));
    const { ids, mask, labels } = batch();
    const before = tf.memory().numTensors;
    const expected = lossAndGradients(variables, () => causalLmLoss(labels, model.apply([ids, mask], { training: true }) as tf.Tensor));
    for (const gradientCheckpointing of [false, true]) {
      const actual = lossAndGradients(variables, () => causalLmTrainingLoss(model, [ids, mask], labels, { gradientCheckpointing, chunkRows: 5 }));
      expect(await maxDifference(actual.value, expected.value)).toBeLessThan(1e-5);
      for (let index = 0; index < variables.length; index++) {
        expect(await maxDifference(actual.grads[index]!, expected.grads[index]!)).toBeLessThan(2e-5);
      }
      tf.dispose([actual.value, ...actual.grads]);
    }
    tf.dispose([expected.value, ...expected.grads]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([ids, mask, labels]);
  });

  it('full fine-tuning (a trainable head) takes the full-logits path and still matches, checkpointed', async () => {
    await tf.setBackend(backend);
    const model = AutoModelForCausalLM.fromConfig({ ...TINY_LLAMA, tie_word_embeddings: true }, { seed: 4 });
    setGradientCheckpointing(model);
    const variables = model.trainableWeights.map((weight) => weight.read() as tf.Variable);
    const { ids, mask, labels } = batch();
    const before = tf.memory().numTensors;
    const expected = lossAndGradients(variables, () => causalLmLoss(labels, model.apply([ids, mask], { training: true }) as tf.Tensor));
    const actual = lossAndGradients(variables, () => causalLmTrainingLoss(model, [ids, mask], labels));
    expect(await maxDifference(actual.value, expected.value)).toBeLessThan(1e-5);
    for (let index = 0; index < variables.length; index++) {
      expect(await maxDifference(actual.grads[index]!, expected.grads[index]!)).toBeLessThan(2e-5);
    }
    tf.dispose([expected.value, ...expected.grads, actual.value, ...actual.grads]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([ids, mask, labels]);
  });

  it('with LoRA dropout, the recomputed layers draw the masks of the first run', async () => {
    await tf.setBackend(backend);
    const base = AutoModelForCausalLM.fromConfig(TINY_LLAMA, { seed: 6 });
    const peft = getPeftModel(base, createLoraConfig({ r: 4, loraAlpha: 8, loraDropout: 0.5, targetModules: ['q_proj', 'v_proj'], initLoraWeights: false }));
    const model = peft.model as LayersModel;
    const variables = model.trainableWeights.map((weight) => weight.read() as tf.Variable);
    const { ids, mask, labels } = batch();
    const original = Math.random;
    const run = (gradientCheckpointing: boolean) => {
      // The same sequence of random numbers for both runs: the same dropout masks.
      let state = 12345;
      Math.random = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
      try {
        return lossAndGradients(variables, () => causalLmTrainingLoss(model, [ids, mask], labels, { gradientCheckpointing }));
      } finally {
        Math.random = original;
      }
    };
    const plain = run(false);
    const checkpointed = run(true);
    expect(await maxDifference(checkpointed.value, plain.value)).toBeLessThan(1e-6);
    for (let index = 0; index < variables.length; index++) expect(await maxDifference(checkpointed.grads[index]!, plain.grads[index]!)).toBeLessThan(2e-5);
    tf.dispose([plain.value, ...plain.grads, checkpointed.value, ...checkpointed.grads, ids, mask, labels]);
  });

  it('an Adam step through the checkpointed loss leaves no tensors behind', async () => {
    await tf.setBackend(backend);
    const base = AutoModelForCausalLM.fromConfig(TINY_LLAMA, { seed: 5 });
    const peft = getPeftModel(base, createLoraConfig({ r: 4, loraAlpha: 8, targetModules: ['q_proj', 'v_proj'] }));
    const model = peft.model as LayersModel;
    const optimizer = tf.train.adam(1e-2);
    const { ids, mask, labels } = batch();
    const step = async () => {
      const loss = optimizer.minimize(() => causalLmTrainingLoss(model, [ids, mask], labels, { gradientCheckpointing: true }), true)!;
      const value = (await loss.data())[0]!;
      loss.dispose();
      return value;
    };
    const first = await step();
    const before = tf.memory().numTensors;
    let last = first;
    for (let index = 0; index < 5; index++) last = await step();
    expect(tf.memory().numTensors).toBe(before);
    expect(last).toBeLessThan(first);
    optimizer.dispose();
    tf.dispose([ids, mask, labels]);
  });
});

describe.each(BACKENDS)('an untied lm_head in the frozen-weight store on %s', (backend) => {
  it.each(['float32', 'nf4'] as const)(
    '%s: the chunked loss scores through the head’s projection (no full logits), with the loss and LoRA gradients of the full-logits path',
    async (storage) => {
      await tf.setBackend(backend);
      const { baseDir } = await loadPeftCase('llama-lora');
      const base = await AutoModelForCausalLM.fromPretrained(baseDir, storage === 'nf4' ? { quantization: 'nf4' } : { dtype: 'float32' });
      const head = base.getLayer('lm_head');
      expect(head).toBeInstanceOf(FrozenLinear);
      expect(layerProjection(head)).not.toBeNull();
      const peft = getPeftModel(base, createLoraConfig({ r: 4, loraAlpha: 8, targetModules: ['q_proj', 'v_proj'], initLoraWeights: false }));
      const model = peft.model as LayersModel;
      const variables = model.trainableWeights.map((weight) => weight.read() as tf.Variable);
      const { ids, mask, labels } = batch();
      const before = tf.memory().numTensors;
      const expected = lossAndGradients(variables, () => causalLmLoss(labels, model.apply([ids, mask], { training: true }) as tf.Tensor));
      // The head layer itself (which makes [batch, seq, vocab] logits) must not run in the chunked loss.
      let headCalls = 0;
      const call = head.call.bind(head);
      head.call = (inputs, kwargs) => {
        headCalls++;
        return call(inputs, kwargs);
      };
      for (const gradientCheckpointing of [false, true]) {
        const actual = lossAndGradients(variables, () => causalLmTrainingLoss(model, [ids, mask], labels, { gradientCheckpointing, chunkRows: 5 }));
        expect(await maxDifference(actual.value, expected.value)).toBeLessThan(1e-5);
        for (let index = 0; index < variables.length; index++) expect(await maxDifference(actual.grads[index]!, expected.grads[index]!)).toBeLessThan(2e-5);
        tf.dispose([actual.value, ...actual.grads]);
      }
      expect(headCalls).toBe(0);
      tf.dispose([expected.value, ...expected.grads]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([ids, mask, labels]);
      model.dispose();
    },
  );
});
