import { fileURLToPath } from 'node:url';
import { registerTuner } from '@peftjs/core';
import { lora } from '@peftjs/lora';
import { fromPretrained, loadSafetensors } from '@peftjs/hub';
import { AutoModelForCausalLM, generate } from '@peftjs/models';
import * as tf from '@tensorflow/tfjs-core';

/** A Python PEFT case: a tiny LlamaForCausalLM and the LoRA adapter PEFT 0.11.1 saved for it. */
export const CASE = fileURLToPath(new URL('../../../test-fixtures/peft/llama-lora/', import.meta.url));

/** One row of the comparison: what peftjs computed next to what Python PEFT saved. */
export interface Comparison {
  what: string;
  /** max |peftjs − Python| over every logit (for ids: 0 when equal). */
  maxDifference: number;
  detail: string;
  equal: boolean;
}

export interface PythonAdapterReport {
  prompts: number[][];
  generated: number[][];
  pythonGenerated: number[][];
  comparisons: Comparison[];
  /** Every comparison within tolerance (logits 1e-5, ids exactly). */
  equal: boolean;
}

const TOLERANCE = 1e-5;

async function maxDifference(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const value = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))));
  const [result] = await value.data();
  value.dispose();
  return result!;
}

/** The comparison as a table a reader can check at a glance. */
export function formatComparisons(comparisons: readonly Comparison[]): string[] {
  const rows = [['', 'peftjs vs Python PEFT 0.11.1', ''], ...comparisons.map((row) => [row.what, row.detail, row.equal ? 'equal' : 'DIFFERENT'])];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) =>
    row
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join('   ')
      .trimEnd(),
  );
}

/**
 * Loads `base/` (what transformers' save_pretrained wrote) and `adapter/` (what PEFT's
 * save_pretrained wrote) as Python does —
 * `PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), adapter)` — and compares
 * every output Python PEFT saved in io.safetensors: logits with the adapter on, off (disabled)
 * and merged, and the greedy continuations.
 */
export async function runPythonAdapter(log: (line: string) => void = () => {}): Promise<PythonAdapterReport> {
  registerTuner(lora);
  const base = await AutoModelForCausalLM.fromPretrained(`${CASE}base`);
  const peftModel = await fromPretrained(base, `${CASE}adapter`);
  const config = peftModel.peftConfig.default as unknown as { r: number; loraAlpha: number };
  log(`Python PEFT's LoRA (r=${config.r}, lora_alpha=${config.loraAlpha}, ${peftModel.targetedModuleNames.length} target modules) on a tiny LlamaForCausalLM`);
  log(peftModel.trainableParametersReport());
  const io = await loadSafetensors(`${CASE}io.safetensors`);
  const inputs = [io.input_ids!, tf.cast(io.attention_mask!, 'float32')];
  const run = () => peftModel.model.predict(inputs) as tf.Tensor;
  const comparisons: Comparison[] = [];
  const compareLogits = async (what: string, logits: tf.Tensor, expected: tf.Tensor) => {
    const difference = await maxDifference(logits, expected);
    comparisons.push({ what, maxDifference: difference, detail: `max |Δ logit| ${difference.toExponential(1)} over ${logits.shape.join(' × ')}`, equal: difference <= TOLERANCE });
    logits.dispose();
  };
  await compareLogits('logits, adapter on', run(), io.expected_adapted!);
  await compareLogits('logits, adapter disabled', await peftModel.disableAdapter(async () => run()), io.expected_disabled!);

  const prompts = (await io.input_ids!.array()) as number[][];
  const pythonGenerated = (await io.expected_greedy_adapted!.array()) as number[][];
  const maxNewTokens = pythonGenerated[0]!.length - prompts[0]!.length;
  const generated = await generate(peftModel.model, prompts, { maxNewTokens, padTokenId: 0 });
  prompts.forEach((prompt, row) => {
    const ours = generated[row]!.slice(prompt.length);
    const theirs = pythonGenerated[row]!.slice(prompt.length);
    const same = JSON.stringify(ours) === JSON.stringify(theirs);
    comparisons.push({ what: `greedy ids, row ${row}`, maxDifference: same ? 0 : 1, detail: `${ours.join(' ')}${same ? '' : `  (Python: ${theirs.join(' ')})`}`, equal: same });
  });

  await peftModel.mergeAdapter();
  await compareLogits('logits, merged', run(), io.expected_merged!);
  for (const line of formatComparisons(comparisons)) log(line);
  tf.dispose([inputs[1]!, ...Object.values(io)]);
  return { prompts, generated, pythonGenerated, comparisons, equal: comparisons.every((row) => row.equal) };
}
