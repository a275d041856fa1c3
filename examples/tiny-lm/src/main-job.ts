import { copyFile, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { fromPretrained } from '@peftjs/hub';
import { AutoModelForCausalLM, generate } from '@peftjs/models';
import {
  evaluateCausalLm,
  loadBase,
  readRows,
  registerBuiltinTuners,
  saveTransformersModel,
  tokenizeRows,
  TOKENIZER_FILES,
  trainAdapter,
  type DataRow,
  type LoadedBase,
  type StepProgress,
} from '@peftjs/cli';

export const BASE_DIR = fileURLToPath(new URL('../base/', import.meta.url));
export const DATA_DIR = fileURLToPath(new URL('../data/', import.meta.url));

/** The embedded defaults of the main job: what `npm start` runs. */
export const MAIN_JOB_DEFAULTS = {
  epochs: 10,
  batchSize: 8,
  lr: 4e-3,
  seed: 42,
  r: 8,
  loraAlpha: 16,
  targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'up_proj', 'down_proj'],
  maxNewTokens: 12,
  prompts: [
    'question: what does the cat say?\nanswer:', // held out of fine-tuning
    'question: where does the wolf live?\nanswer:', // held out
    'question: what does the horse eat?\nanswer:', // tuned on
  ],
};

export interface MainJobOptions {
  out?: string;
  epochs?: number;
  log?: (line: string) => void;
  onStep?: (progress: StepProgress) => void;
}

export interface MainJobReport {
  trainableParameters: string;
  lossBefore: number;
  lossAfter: number;
  heldOutLossBefore: number;
  heldOutLossAfter: number;
  generationsBefore: string[];
  /** Held-out questions (animals never tuned on) answered exactly right, before and after. */
  heldOutExactBefore: number;
  heldOutExactAfter: number;
  heldOutQuestions: number;
  generationsAfter: string[];
  adapterFiles: Record<string, number>;
  reloadMaxDifference: number;
  reloadedGenerationsEqual: boolean;
  mergeMaxDifference: number;
  mergedGenerationsEqual: boolean;
  mergedFiles: string[];
  trainSeconds: number;
  tokensPerSecond: number;
}

async function generations(model: LayersModel, base: LoadedBase, prompts: readonly string[], maxNewTokens: number): Promise<string[]> {
  const tokenizer = base.tokenizer!;
  const result: string[] = [];
  for (const prompt of prompts) {
    const ids = tokenizer.encode(prompt);
    const [sequence] = await generate(model, [ids], { maxNewTokens, eosTokenId: tokenizer.eosTokenId ?? null });
    result.push(tokenizer.decode(sequence!.slice(ids.length)).split('\n')[0]!.trim());
  }
  return result;
}

/** How many rows the model completes exactly (greedy, up to the first EOS). */
async function exactMatches(model: LayersModel, base: LoadedBase, rows: readonly DataRow[]): Promise<number> {
  const answers = await generations(
    model,
    base,
    rows.map((row) => row.prompt as string),
    12,
  );
  return answers.filter((answer, index) => answer === (rows[index]!.completion as string).trim()).length;
}

async function logitsOf(model: LayersModel, ids: number[][]): Promise<tf.Tensor> {
  return tf.tidy(() => {
    const inputIds = tf.tensor2d(ids, undefined, 'int32');
    return model.predict([inputIds, tf.cast(tf.onesLike(inputIds), 'float32')]) as tf.Tensor;
  });
}

async function maxDifference(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const difference = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))));
  const value = (await difference.data())[0]!;
  difference.dispose();
  return value;
}

/**
 * The main job: LoRA-tunes the tiny pretrained LLaMA in base/ to answer questions, then saves
 * the adapter in PEFT's format, reloads it on a fresh base, and merges it into a transformers
 * model folder — checking the outputs agree at each step.
 */
export async function runMainJob(options: MainJobOptions = {}): Promise<MainJobReport> {
  const log = options.log ?? (() => {});
  const out = options.out ?? fileURLToPath(new URL('../out/', import.meta.url));
  const settings = MAIN_JOB_DEFAULTS;
  registerBuiltinTuners();
  await rm(out, { recursive: true, force: true });

  const base = await loadBase(BASE_DIR);
  const config = base.config as { hidden_size: number; num_hidden_layers: number; vocab_size: number };
  log(
    `base model: ${BASE_DIR} (LlamaForCausalLM, hidden ${config.hidden_size}, ${config.num_hidden_layers} layers, vocab ${config.vocab_size}, ${base.model.countParams().toLocaleString('en-US')} parameters)`,
  );
  const trainRows = await readRows(join(DATA_DIR, 'qa-train.jsonl'));
  const heldOutRows = await readRows(join(DATA_DIR, 'qa-eval.jsonl'));
  log(`data: ${trainRows.length} question/answer rows to tune on, ${heldOutRows.length} about held-out animals`);
  const padTokenId = base.tokenizer!.padTokenId ?? 0;
  const heldOut = tokenizeRows(heldOutRows, { tokenizer: base.tokenizer, maxLength: 64 });
  const heldOutLossBefore = (await evaluateCausalLm(base.model, heldOut, { batchSize: 8, padTokenId })).loss;

  const heldOutExactBefore = await exactMatches(base.model, base, heldOutRows);
  const generationsBefore = await generations(base.model, base, settings.prompts, settings.maxNewTokens);
  log('before fine-tuning:');
  settings.prompts.forEach((prompt, index) => log(`  ${JSON.stringify(prompt)} → ${JSON.stringify(generationsBefore[index])}`));

  const adapterDir = join(out, 'adapter');
  const trained = await trainAdapter({
    base,
    rows: trainRows,
    method: 'lora',
    config: { r: settings.r, lora_alpha: settings.loraAlpha, lora_dropout: 0.0, target_modules: settings.targetModules },
    epochs: options.epochs ?? settings.epochs,
    batchSize: settings.batchSize,
    lr: settings.lr,
    seed: settings.seed,
    evalSplit: 0.1,
    maxLength: 64,
    out: adapterDir,
    dataSource: 'data/qa-train.jsonl',
    onStep: options.onStep,
    log,
  });
  const { peftModel } = trained;
  const lossBefore = trained.log.evals[0]!.loss;
  const lossAfter = trained.log.evals.at(-1)!.loss;
  const heldOutLossAfter = (await evaluateCausalLm(peftModel.model, heldOut, { batchSize: 8, padTokenId })).loss;
  log(`answer loss on the eval split: ${lossBefore.toFixed(3)} → ${lossAfter.toFixed(3)}; on held-out animals: ${heldOutLossBefore.toFixed(3)} → ${heldOutLossAfter.toFixed(3)}`);
  const heldOutExactAfter = await exactMatches(peftModel.model, base, heldOutRows);
  log(`held-out questions answered exactly: ${heldOutExactBefore}/${heldOutRows.length} → ${heldOutExactAfter}/${heldOutRows.length}`);
  const generationsAfter = await generations(peftModel.model, base, settings.prompts, settings.maxNewTokens);
  log('after fine-tuning:');
  settings.prompts.forEach((prompt, index) => log(`  ${JSON.stringify(prompt)} → ${JSON.stringify(generationsAfter[index])}`));

  const adapterFiles: Record<string, number> = {};
  // The engine's checkpoint-<step>/ (what a resume reads) sits beside the adapter's files.
  for (const name of await readdir(adapterDir)) if (!name.startsWith('checkpoint-')) adapterFiles[name] = (await stat(join(adapterDir, name))).size;
  log(
    `saved ${adapterDir}: ${Object.entries(adapterFiles)
      .map(([name, size]) => `${name} (${size.toLocaleString('en-US')} bytes)`)
      .join(', ')}`,
  );

  // Reload on a fresh copy of the base: same logits, same answers.
  const probe = settings.prompts.map((prompt) => base.tokenizer!.encode(prompt).slice(0, 10));
  const adaptedLogits = await logitsOf(peftModel.model, probe);
  const fresh = await AutoModelForCausalLM.fromPretrained(BASE_DIR);
  const reloaded = await fromPretrained(fresh, adapterDir);
  const reloadedLogits = await logitsOf(reloaded.model, probe);
  const reloadMaxDifference = await maxDifference(adaptedLogits, reloadedLogits);
  const reloadedGenerations = await generations(reloaded.model, base, settings.prompts, settings.maxNewTokens);
  const reloadedGenerationsEqual = reloadedGenerations.every((text, index) => text === generationsAfter[index]);
  log(`reloaded the adapter on a fresh base: max |logit difference| ${reloadMaxDifference.toExponential(2)}, answers ${reloadedGenerationsEqual ? 'equal' : 'DIFFER'}`);

  // Merge into the weights and write a transformers folder; load it back as a plain model.
  const mergedDir = join(out, 'merged');
  const merged = await reloaded.mergeAndUnload();
  await saveTransformersModel(merged, mergedDir, { config: base.config });
  for (const file of ['generation_config.json', ...TOKENIZER_FILES]) {
    if (await stat(join(BASE_DIR, file)).catch(() => undefined)) await copyFile(join(BASE_DIR, file), join(mergedDir, file));
  }
  await mkdir(mergedDir, { recursive: true });
  const mergedModel = await AutoModelForCausalLM.fromPretrained(mergedDir);
  const mergedLogits = await logitsOf(mergedModel, probe);
  const mergeMaxDifference = await maxDifference(adaptedLogits, mergedLogits);
  const mergedGenerations = await generations(mergedModel, base, settings.prompts, settings.maxNewTokens);
  const mergedGenerationsEqual = mergedGenerations.every((text, index) => text === generationsAfter[index]);
  const mergedFiles = (await readdir(mergedDir)).sort();
  log(
    `merged into ${mergedDir} (${mergedFiles.join(', ')}): max |logit difference| ${mergeMaxDifference.toExponential(2)}, answers ${mergedGenerationsEqual ? 'equal' : 'DIFFER'}`,
  );
  tf.dispose([adaptedLogits, reloadedLogits, mergedLogits]);

  return {
    trainableParameters: trained.log.trainable_parameters,
    lossBefore,
    lossAfter,
    heldOutLossBefore,
    heldOutLossAfter,
    generationsBefore,
    heldOutExactBefore,
    heldOutExactAfter,
    heldOutQuestions: heldOutRows.length,
    generationsAfter,
    adapterFiles,
    reloadMaxDifference,
    reloadedGenerationsEqual,
    mergeMaxDifference,
    mergedGenerationsEqual,
    mergedFiles,
    trainSeconds: trained.log.seconds,
    tokensPerSecond: trained.log.tokens_per_second,
  };
}
