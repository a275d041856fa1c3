import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { initBackend } from '@peftjs/runtime';
import { setWarningHandler } from '@peftjs/core';
import { loadBase, readRows, registerBuiltinTuners, trainAdapter } from '@peftjs/cli';
import { BASE_DIR, DATA_DIR, MAIN_JOB_DEFAULTS } from './main-job';

let out: string;
beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
  setWarningHandler(() => {});
  registerBuiltinTuners();
  out = await mkdtemp(join(tmpdir(), 'peftjs-qlora-'));
});
afterAll(async () => {
  await rm(out, { recursive: true, force: true });
});

const EPOCHS = 6;
/** Report the curve every this many optimizer steps. */
const EVERY = 6;

/** The main job's LoRA fine-tune on a base stored as `storage` (none: float32 tfjs variables); the loss per step and the eval losses. */
async function fineTune(name: string, storage: NonNullable<Parameters<typeof loadBase>[1]>['storage']): Promise<{ steps: number[]; evals: number[] }> {
  const base = await loadBase(BASE_DIR, { storage });
  const rows = await readRows(join(DATA_DIR, 'qa-train.jsonl'));
  const settings = MAIN_JOB_DEFAULTS;
  const trained = await trainAdapter({
    base,
    rows,
    method: 'lora',
    config: { r: settings.r, lora_alpha: settings.loraAlpha, lora_dropout: 0.0, target_modules: settings.targetModules },
    epochs: EPOCHS,
    batchSize: settings.batchSize,
    lr: settings.lr,
    seed: settings.seed,
    evalSplit: 0.1,
    maxLength: 64,
    out: join(out, name),
  });
  const result = { steps: trained.log.steps.map((step) => step.loss), evals: trained.log.evals.map((entry) => entry.loss) };
  trained.peftModel.model.dispose();
  // Disposing the PEFT model leaves the base layers it did not wrap (norms, untargeted
  // projections) alive, as the base graph still counts them; their weights go here.
  for (const weight of base.model.weights) if (!(weight as unknown as { val: tf.Variable }).val.isDisposed) weight.dispose();
  return result;
}

it('QLoRA (LoRA on an NF4 base) converges like LoRA on the float32 base: same seed, same data, loss curves within a quantisation-sized margin', async () => {
  const tensorsBefore = tf.memory().numTensors;
  const float32 = await fineTune('float32', undefined);
  const nf4 = await fineTune('nf4', { quantization: 'nf4' });
  expect(tf.memory().numTensors).toBe(tensorsBefore);

  const curve = (losses: number[]) => losses.filter((_, index) => index % EVERY === 0 || index === losses.length - 1).map((loss) => loss.toFixed(4));
  console.log(`step losses every ${EVERY} steps\n  float32: ${curve(float32.steps).join(' ')}\n  nf4:     ${curve(nf4.steps).join(' ')}`);
  console.log(`eval losses per epoch\n  float32: ${float32.evals.map((loss) => loss.toFixed(4)).join(' ')}\n  nf4:     ${nf4.evals.map((loss) => loss.toFixed(4)).join(' ')}`);

  expect(nf4.steps.length).toBe(float32.steps.length);
  // The NF4 base is a different (rounded) model: its loss before tuning differs from float32's by
  // the quantisation error alone (3% here) — and does differ, so the base really was quantised.
  const startGap = Math.abs(nf4.evals[0]! - float32.evals[0]!);
  expect(startGap).toBeGreaterThan(1e-3);
  expect(startGap).toBeLessThan(0.1 * float32.evals[0]!);
  // Both fall: the final eval loss is well under half the first, for either base.
  for (const run of [float32, nf4]) expect(run.evals.at(-1)!).toBeLessThan(0.5 * run.evals[0]!);
  // QLoRA's curve tracks float32's (as in the QLoRA paper, NF4 + LoRA matches 16-bit tuning): over
  // the last third of the steps its mean training loss, and its final eval loss, are within 25%
  // (+0.05 nats for the noise of one small batch) of float32's. Measured: within 2%.
  const tail = (losses: number[]) => {
    const last = losses.slice(Math.floor((losses.length * 2) / 3));
    return last.reduce((sum, loss) => sum + loss, 0) / last.length;
  };
  expect(tail(nf4.steps)).toBeLessThan(tail(float32.steps) * 1.25 + 0.05);
  expect(nf4.evals.at(-1)!).toBeLessThan(float32.evals.at(-1)! * 1.25 + 0.05);
}, 300_000);
