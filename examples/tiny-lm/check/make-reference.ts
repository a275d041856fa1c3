/**
 * Writes check/reference.safetensors + check/reference.json: prompts, their token ids (from
 * tokenizer.json through @peftjs/models) and the logits peftjs computes for them with base/. The
 * Python script beside it loads base/ with transformers and checks both.
 *
 * Run: pnpm --filter @peftjs/example-tiny-lm make-reference   (after pretraining)
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@peftjs/runtime';
import { AutoModelForCausalLM } from '@peftjs/models';
import { saveSafetensors } from '@peftjs/hub';
import { loadTokenizer } from '@peftjs/cli';

export const PROMPTS = ['the cow says moo and eats grass.', 'tom went to the park with mia. the dog'];
const base = fileURLToPath(new URL('../base/', import.meta.url));
const here = fileURLToPath(new URL('./', import.meta.url));

/** Right-padded ids, mask and the base model's logits for PROMPTS. */
export async function referenceOutputs(): Promise<{ inputIds: number[][]; attentionMask: number[][]; logits: tf.Tensor }> {
  const tokenizer = await loadTokenizer(base);
  const encoded = PROMPTS.map((text) => tokenizer.encode(text));
  const length = Math.max(...encoded.map((ids) => ids.length));
  const inputIds = encoded.map((ids) => [...ids, ...new Array<number>(length - ids.length).fill(tokenizer.padTokenId ?? 0)]);
  const attentionMask = encoded.map((ids) => [...ids.map(() => 1), ...new Array<number>(length - ids.length).fill(0)]);
  const model = await AutoModelForCausalLM.fromPretrained(base);
  const logits = tf.tidy(() => model.predict([tf.tensor2d(inputIds, undefined, 'int32'), tf.tensor2d(attentionMask, undefined, 'float32')]) as tf.Tensor);
  return { inputIds, attentionMask, logits };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await initBackend();
  const { inputIds, attentionMask, logits } = await referenceOutputs();
  const tokenizer = await loadTokenizer(base);
  await saveSafetensors(
    `${here}reference.safetensors`,
    { input_ids: tf.tensor2d(inputIds, undefined, 'int32'), attention_mask: tf.tensor2d(attentionMask, undefined, 'int32'), logits },
    { metadata: { format: 'pt' } },
  );
  await writeFile(`${here}reference.json`, `${JSON.stringify({ prompts: PROMPTS, input_ids: PROMPTS.map((text) => tokenizer.encode(text)) }, null, 2)}\n`);
  console.log(`wrote ${here}reference.safetensors (logits [${logits.shape.join(', ')}]) and reference.json`);
}
