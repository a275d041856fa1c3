import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSafetensorsData } from '@peftjs/hub';
import { initBackend } from '@peftjs/runtime';
import { initialStateFile, readTrainCase, recipeFlags, snapshot, snapshotKeys, toleranceFraction, trainCaseNames } from '../../../../test-fixtures/peft-train-case';
import { cli } from '../__fixtures__/run';

let work: string;
beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
  work = await mkdtemp(join(tmpdir(), 'peftjs-train-fixtures-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe.each(trainCaseNames())('peftjs train on fixture %s', (name) => {
  it('logs the losses, grad norms and learning rates, and checkpoints every tensor after every step, as PyTorch', async () => {
    const trainCase = await readTrainCase(name);
    const out = join(work, name);
    const initState = join(work, `${name}-init.safetensors`);
    await writeFile(initState, await initialStateFile(trainCase));
    const result = await cli(
      'train',
      ...recipeFlags(trainCase),
      '--init-adapter',
      `${trainCase.folder}/init-adapter`,
      '--init-state',
      initState,
      '--save-steps',
      '1',
      '--out',
      out,
    );
    expect(result.code, result.stderr).toBe(0);

    const log = JSON.parse(await readFile(join(out, 'training_log.json'), 'utf8'));
    expect(log.steps).toHaveLength(trainCase.steps);
    const accumulation = trainCase.train.gradient_accumulation_steps;
    for (const [index, entry] of log.steps.entries()) {
      const k = index + 1;
      expect(Object.keys(entry)).toEqual(expect.arrayContaining(['step', 'loss', 'grad_norm', 'learning_rate', 'seconds']));
      expect(entry.step).toBe(k);
      const losses = Array.from(trainCase.io.losses!.values.slice(index * accumulation, k * accumulation));
      const meanLoss = losses.reduce((sum, value) => sum + value, 0) / losses.length;
      expect(toleranceFraction([entry.loss], [meanLoss], trainCase.tolerances.losses), `loss at step ${k}`).toBeLessThanOrEqual(1);
      expect(toleranceFraction([entry.grad_norm], [trainCase.io.grad_norms!.values[index]!], trainCase.tolerances.grad_norms), `grad norm at step ${k}`).toBeLessThanOrEqual(1);
      expect(entry.learning_rate).toBe(trainCase.train.lr_scheduler.lr_per_step[index]);
      expect(entry.seconds).toBeGreaterThanOrEqual(index === 0 ? 0 : log.steps[index - 1].seconds);

      const folder = join(out, `checkpoint-${k}`);
      expect((await readdir(folder)).sort()).toEqual([
        'adapter_config.json',
        'adapter_model.safetensors',
        'optimizer.safetensors',
        'trainable_state.safetensors',
        'trainer_state.json',
      ]);
      const state = await loadSafetensorsData(await readFile(join(folder, 'trainable_state.safetensors')));
      expect(Object.keys(state).sort()).toEqual([...trainCase.keys].sort());
      const adapterFile = await loadSafetensorsData(await readFile(join(folder, 'adapter_model.safetensors')));
      for (const key of snapshotKeys(trainCase, k)) {
        const actual = state[key] ?? adapterFile[key];
        expect(actual, `${key} in checkpoint-${k}`).toBeDefined();
        expect(toleranceFraction(actual!.values, snapshot(trainCase, k, key)!.values, trainCase.tolerances.params), `${key} after step ${k}`).toBeLessThanOrEqual(1);
      }
      const optimizer = await loadSafetensorsData(await readFile(join(folder, 'optimizer.safetensors')));
      expect(optimizer.step!.values[0]).toBe(k);
      for (const key of trainCase.keys) expect(optimizer[`exp_avg/${key}`]?.shape, key).toEqual(state[key]!.shape);
      const trainerState = JSON.parse(await readFile(join(folder, 'trainer_state.json'), 'utf8'));
      expect(trainerState).toMatchObject({ global_step: k, data_position: { micro_batch: k * accumulation } });
      expect(trainerState.log_history).toHaveLength(k);
    }
    // The final adapter equals the last checkpoint's.
    expect(Buffer.compare(await readFile(join(out, 'adapter_model.safetensors')), await readFile(join(out, `checkpoint-${trainCase.steps}`, 'adapter_model.safetensors')))).toBe(0);
    await stat(join(out, 'loss_curve.png'));
  });
});

describe('peftjs train from --init-adapter alone', () => {
  it('loads the adapter as the initial state (the fixture needs no --init-state when every tensor is in the adapter file)', async () => {
    const trainCase = await readTrainCase('llama-lora-adamw');
    const out = join(work, 'init-adapter-only');
    const result = await cli('train', ...recipeFlags(trainCase), '--init-adapter', `${trainCase.folder}/init-adapter`, '--out', out);
    expect(result.code, result.stderr).toBe(0);
    const final = await loadSafetensorsData(await readFile(join(out, 'adapter_model.safetensors')));
    for (const key of trainCase.keys)
      expect(toleranceFraction(final[key]!.values, snapshot(trainCase, trainCase.steps, key)!.values, trainCase.tolerances.params), key).toBeLessThanOrEqual(1);
    // Only the last step is checkpointed without --save-steps.
    expect((await readdir(out)).filter((entry) => entry.startsWith('checkpoint-'))).toEqual([`checkpoint-${trainCase.steps}`]);
  });
});
