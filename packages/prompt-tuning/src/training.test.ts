import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { getPeftModel, registerTuner, setWarningHandler, type PeftModel } from '@peftjs/core';
import { compileForLabels } from '@peftjs/models';
import { TINY_LLAMA, tinyCausalLm } from './__fixtures__/tiny-models';
import { forwardCausalLm, padLabels, promptCausalLmLoss, pTuning, prefixTuning, promptTuning } from './index';

beforeAll(async () => {
  await tf.setBackend('wasm');
  for (const tuner of [promptTuning, pTuning, prefixTuning]) registerTuner(tuner);
  setWarningHandler(() => {});
});

async function snapshot(peftModel: PeftModel): Promise<Map<string, Float32Array>> {
  const values = new Map<string, Float32Array>();
  for (const [name, param] of peftModel.namedParameters()) values.set(name, (await param.variable.read().data()) as Float32Array);
  return values;
}

/** A fixed toy corpus: every row counts up from a random start (mod vocab), so it is learnable. */
function corpus(vocab: number, rows = 4, length = 6): tf.Tensor2D {
  const data = Array.from({ length: rows }, (_, row) => Array.from({ length }, (_, index) => (row * 5 + index * 3 + 1) % vocab));
  return tf.tensor2d(data, [rows, length], 'int32');
}

async function lossOf(peftModel: PeftModel, ids: tf.Tensor): Promise<number> {
  const { logits, loss } = forwardCausalLm(peftModel, { inputIds: ids, labels: ids });
  const value = (await loss!.data())[0]!;
  tf.dispose([logits, loss!]);
  return value;
}

const methods: Array<[string, Record<string, unknown>, string]> = [
  ['prompt tuning', { peft_type: 'PROMPT_TUNING', num_virtual_tokens: 4 }, 'prompt_tuning_'],
  ['P-tuning (MLP)', { peft_type: 'P_TUNING', num_virtual_tokens: 4, encoder_hidden_size: 16 }, 'p_tuning_'],
  [
    'P-tuning (LSTM, dropout)',
    { peft_type: 'P_TUNING', num_virtual_tokens: 4, encoder_reparameterization_type: 'LSTM', encoder_hidden_size: 8, encoder_dropout: 0.1 },
    'p_tuning_',
  ],
  ['prefix tuning', { peft_type: 'PREFIX_TUNING', num_virtual_tokens: 4 }, 'prefix_tuning_'],
  ['prefix tuning (projection)', { peft_type: 'PREFIX_TUNING', num_virtual_tokens: 4, prefix_projection: true, encoder_hidden_size: 16 }, 'prefix_tuning_'],
];

describe.each([
  ['GPT-2', undefined],
  ['Llama (GQA)', TINY_LLAMA],
])('a short training run on a tiny %s', (_, modelConfig) => {
  it.each(methods)('%s lowers the loss and moves only its own weights', async (_name, config, prefix) => {
    const peftModel = getPeftModel(tinyCausalLm(modelConfig), config);
    const vocab = (modelConfig ?? { vocab_size: 40 }).vocab_size as number;
    const ids = corpus(vocab);
    const before = await snapshot(peftModel);
    const initial = await lossOf(peftModel, ids);
    const optimizer = tf.train.adam(0.05);
    const variables = peftModel.model.trainableWeights.map((weight) => weight.read() as tf.Variable);
    expect(variables.length).toBeGreaterThan(0);
    const tensorsBefore = tf.memory().numTensors;
    for (let step = 0; step < 15; step++) {
      tf.tidy(() => {
        optimizer.minimize(
          () => {
            const { logits, loss } = forwardCausalLm(peftModel, { inputIds: ids, labels: ids, training: true });
            logits.dispose();
            return loss!;
          },
          false,
          variables,
        );
      });
    }
    const tensorsAfter = tf.memory().numTensors;
    optimizer.dispose();
    // Adam keeps two slots per variable, created on the first step.
    expect(tensorsAfter).toBe(tensorsBefore + 2 * variables.length);
    const final = await lossOf(peftModel, ids);
    expect(final).toBeLessThan(initial - 0.1);
    const after = await snapshot(peftModel);
    let movedOwn = 0;
    for (const [name, value] of before) {
      const moved = value.some((item, index) => item !== after.get(name)![index]);
      if (name.includes(prefix)) movedOwn += moved ? 1 : 0;
      else expect(moved, `${name} is a base weight but moved`).toBe(false);
    }
    expect(movedOwn).toBeGreaterThan(0);
    ids.dispose();
    peftModel.unload();
  });
});

describe('fit()', () => {
  it('trains prompt tuning with promptCausalLmLoss on unpadded labels (compileForLabels)', async () => {
    const peftModel = getPeftModel(tinyCausalLm(), { peft_type: 'PROMPT_TUNING', num_virtual_tokens: 3 });
    const ids = corpus(40);
    const mask = tf.cast(tf.onesLike(ids), 'float32');
    compileForLabels(peftModel.model, { optimizer: tf.train.adam(0.05), loss: promptCausalLmLoss });
    const history = await peftModel.model.fit([ids, mask], ids, { epochs: 12, batchSize: 4, verbose: 0 });
    const losses = history.history.loss as number[];
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]! - 0.1);
    // promptCausalLmLoss equals causalLmLoss on labels padded with -100.
    const { logits, loss } = forwardCausalLm(peftModel, { inputIds: ids, labels: ids });
    const viaFit = promptCausalLmLoss(ids, logits);
    const padded = padLabels(ids, 3);
    expect(padded.shape).toEqual([4, 9]);
    expect(((await padded.array()) as number[][])[0]!.slice(0, 3)).toEqual([-100, -100, -100]);
    expect(Math.abs((await viaFit.data())[0]! - (await loss!.data())[0]!)).toBeLessThan(1e-6);
    tf.dispose([ids, mask, logits, loss!, viaFit, padded]);
    peftModel.unload();
  });
});
