import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { BASE_ADAPTER_NAME, registerTuner } from '@peftjs/core';
import { createLoraConfig, lora } from '@peftjs/lora';
import { fromPretrained, loadSafetensors } from '@peftjs/hub';
import { AutoModelForCausalLM, generate } from '@peftjs/models';

export const CASE = fileURLToPath(new URL('../../../test-fixtures/peft/gpt2-lora/', import.meta.url));

export interface MultiAdapterReport {
  adapters: string[];
  /** max |logits − Python's adapted logits| with "python" active. */
  pythonDifference: number;
  /** max |logits − Python's base logits| inside disableAdapter(). */
  disabledDifference: number;
  /** max |logits("python") − logits("other")|: the swap changes the outputs. */
  swapDifference: number;
  /** Mixed batch (row 0 "python", row 1 base) against the per-adapter runs. */
  mixedDifference: number;
  mixedGeneration: number[][];
  separateGeneration: number[][];
}

async function maxDifference(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const value = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))));
  const result = (await value.data())[0]!;
  value.dispose();
  return result;
}

/**
 * One GPT-2 base, two LoRA adapters: "python" (saved by Python PEFT) and "other" (made here).
 * Hot-swaps them with setAdapter, turns them off with disableAdapter, and runs one batch whose
 * rows use different adapters (PEFT's adapter_names), for both a forward pass and generation.
 */
export async function runMultiAdapter(log: (line: string) => void = () => {}): Promise<MultiAdapterReport> {
  registerTuner(lora);
  const base = await AutoModelForCausalLM.fromPretrained(`${CASE}base`);
  const peftModel = await fromPretrained(base, `${CASE}adapter`, { adapterName: 'python' });
  peftModel.addAdapter('other', createLoraConfig({ r: 2, loraAlpha: 4, targetModules: ['c_attn'], initLoraWeights: false }));
  log(`adapters: ${peftModel.adapterNames.join(', ')}; active: ${peftModel.activeAdapters.join(', ')}`);

  const io = await loadSafetensors(`${CASE}io.safetensors`);
  const inputs = [io.input_ids!, tf.cast(io.attention_mask!, 'float32')];
  const run = () => peftModel.model.predict(inputs) as tf.Tensor;
  const pythonLogits = run();
  const pythonDifference = await maxDifference(pythonLogits, io.expected_adapted!);
  log(`"python" active: max |logits − Python PEFT's| = ${pythonDifference.toExponential(2)}`);

  peftModel.setAdapter('other');
  const otherLogits = run();
  const swapDifference = await maxDifference(pythonLogits, otherLogits);
  log(`hot-swapped to "other": logits moved by up to ${swapDifference.toFixed(3)}`);

  const disabledLogits = await peftModel.disableAdapter(async () => run());
  const disabledDifference = await maxDifference(disabledLogits, io.expected_base!);
  log(`inside disableAdapter(): max |logits − Python's base logits| = ${disabledDifference.toExponential(2)}`);

  // One batch, one adapter per row.
  const rows = ['python', BASE_ADAPTER_NAME];
  const mixed = peftModel.predict(inputs, { adapterNames: rows }) as tf.Tensor;
  const expected = tf.concat([tf.slice(pythonLogits, [0, 0, 0], [1, -1, -1]), tf.slice(disabledLogits, [1, 0, 0], [1, -1, -1])]);
  const mixedDifference = await maxDifference(mixed, expected);
  log(`mixed batch (row 0 "python", row 1 "${BASE_ADAPTER_NAME}"): max |difference| from running each alone = ${mixedDifference.toExponential(2)}`);

  const prompts = (await io.input_ids!.array()) as number[][];
  const mixedGeneration = await generate(peftModel.model, prompts, { maxNewTokens: 6, padTokenId: 0, adapterNames: rows });
  peftModel.setAdapter('python');
  const [pythonRow] = await generate(peftModel.model, [prompts[0]!], { maxNewTokens: 6, padTokenId: 0 });
  const [baseRow] = await peftModel.disableAdapter(() => generate(peftModel.model, [prompts[1]!], { maxNewTokens: 6, padTokenId: 0 }));
  const separateGeneration = [pythonRow!, baseRow!];
  log(`mixed-adapter generation: ${JSON.stringify(mixedGeneration.map((row, index) => row.slice(prompts[index]!.length)))}`);
  tf.dispose([pythonLogits, otherLogits, disabledLogits, mixed, expected, inputs[1]!, ...Object.values(io)]);
  return { adapters: peftModel.adapterNames, pythonDifference, disabledDifference, swapDifference, mixedDifference, mixedGeneration, separateGeneration };
}
