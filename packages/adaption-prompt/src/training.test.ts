import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, expect, it } from 'vitest';
import { getPeftModel, registerTuner, setWarningHandler, type PeftModel } from '@peftjs/core';
import { AutoModelForCausalLM, AutoTokenizer, causalLmLoss } from '@peftjs/models';
import { adaptionPrompt } from './index';

const TINY_LM = fileURLToPath(new URL('../../../examples/tiny-lm/', import.meta.url));

beforeAll(async () => {
  await tf.setBackend('wasm');
  registerTuner(adaptionPrompt);
  setWarningHandler(() => {});
});

function lossOf(peftModel: PeftModel, ids: tf.Tensor2D): tf.Scalar {
  const logits = peftModel.model.apply([ids, tf.cast(tf.onesLike(ids), 'float32')], { training: true }) as tf.Tensor;
  return causalLmLoss(ids, logits);
}

it('a short training run on the tiny LM example lowers the loss and moves only the adaption prompts and gates', async () => {
  const base = await AutoModelForCausalLM.fromPretrained(`${TINY_LM}base`);
  const tokenizer = await AutoTokenizer.fromPretrained(`${TINY_LM}base`);
  const rows = readFileSync(`${TINY_LM}data/qa-train.jsonl`, 'utf8')
    .trim()
    .split('\n')
    .slice(0, 8)
    .map((line) => JSON.parse(line) as { prompt: string; completion: string })
    .map((row) => tokenizer.encode(row.prompt + row.completion).inputIds);
  const length = Math.min(...rows.map((row) => row.length));
  const ids = tf.tensor2d(
    rows.map((row) => row.slice(0, length)),
    [rows.length, length],
    'int32',
  );
  const peftModel = getPeftModel(base, { peft_type: 'ADAPTION_PROMPT', adapter_len: 8, adapter_layers: 2, task_type: 'CAUSAL_LM' });
  expect(peftModel.trainableParametersReport()).toMatch(/^trainable params: 2,050 \|\|/);
  const frozen = peftModel.model.weights.filter((weight) => !weight.trainable).map((weight) => [weight, weight.read().clone()] as const);
  const initial = (await tf.tidy(() => lossOf(peftModel, ids)).data())[0]!;
  const optimizer = tf.train.adam(0.01);
  const variables = peftModel.model.trainableWeights.map((weight) => weight.read() as tf.Variable);
  for (let step = 0; step < 15; step++) tf.tidy(() => void optimizer.minimize(() => lossOf(peftModel, ids), false, variables));
  optimizer.dispose();
  const final = (await tf.tidy(() => lossOf(peftModel, ids)).data())[0]!;
  expect(final).toBeLessThan(initial - 0.1);
  for (const [weight, value] of frozen) {
    const moved = tf.tidy(() => tf.any(tf.notEqual(weight.read(), value)));
    expect((await moved.data())[0], `${weight.name} moved`).toBe(0);
    tf.dispose([moved, value]);
  }
  console.log(`adaption prompt on examples/tiny-lm: loss ${initial.toFixed(4)} → ${final.toFixed(4)} in 15 Adam steps`);
  ids.dispose();
});
