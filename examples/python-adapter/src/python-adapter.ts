import { fileURLToPath } from 'node:url';
import { registerTuner } from '@peftjs/core';
import { lora } from '@peftjs/lora';
import { fromPretrained, loadSafetensors } from '@peftjs/hub';
import { AutoModelForCausalLM, generate } from '@peftjs/models';
import * as tf from '@tensorflow/tfjs-core';

/** A Python PEFT case: a tiny LlamaForCausalLM and the LoRA adapter PEFT 0.11.1 saved for it. */
export const CASE = fileURLToPath(new URL('../../../test-fixtures/peft/llama-lora/', import.meta.url));

export interface PythonAdapterReport {
  prompts: number[][];
  generated: number[][];
  pythonGenerated: number[][];
  equal: boolean;
}

/**
 * Loads `base/` (what transformers' save_pretrained wrote) and `adapter/` (what PEFT's
 * save_pretrained wrote) exactly as Python does —
 * `PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), adapter)` — and
 * generates greedily; the ids equal the ones Python PEFT generated (stored in io.safetensors).
 */
export async function runPythonAdapter(log: (line: string) => void = () => {}): Promise<PythonAdapterReport> {
  registerTuner(lora);
  const base = await AutoModelForCausalLM.fromPretrained(`${CASE}base`);
  const peftModel = await fromPretrained(base, `${CASE}adapter`);
  log(`loaded ${CASE}adapter onto ${CASE}base: ${peftModel.trainableParametersReport()}`);
  log(`adapter config: ${JSON.stringify(peftModel.peftConfig.default && { r: peftModel.peftConfig.default['r' as never], targets: peftModel.targetedModuleNames.length })}`);
  const io = await loadSafetensors(`${CASE}io.safetensors`, { names: ['input_ids', 'expected_greedy_adapted'] });
  const prompts = (await io.input_ids!.array()) as number[][];
  const pythonGenerated = (await io.expected_greedy_adapted!.array()) as number[][];
  tf.dispose(Object.values(io));
  const generated = await generate(peftModel.model, prompts, { maxNewTokens: 6, padTokenId: 0 });
  prompts.forEach((prompt, row) => log(`prompt ${JSON.stringify(prompt)} → peftjs ${JSON.stringify(generated[row]!.slice(prompt.length))}, Python ${JSON.stringify(pythonGenerated[row]!.slice(prompt.length))}`));
  const equal = JSON.stringify(generated) === JSON.stringify(pythonGenerated);
  return { prompts, generated, pythonGenerated, equal };
}
