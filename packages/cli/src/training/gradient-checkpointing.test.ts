import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSafetensorsData } from '@peftjs/hub';
import { readTrainCase, type TrainCase } from '../../../../test-fixtures/peft-train-case';
import { cli } from '../__fixtures__/run';

let work: string;
let lora: TrainCase;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'peftjs-train-checkpointing-'));
  lora = await readTrainCase('llama-lora-adamw');
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

function run(out: string, ...extra: string[]) {
  return cli(
    'train',
    '--base',
    `${lora.folder}/base`,
    '--data',
    `${lora.folder}/data.jsonl`,
    '--method',
    'lora',
    '--r',
    '4',
    '--lora-alpha',
    '8',
    '--lora-dropout',
    '0.1',
    '--target-modules',
    'q_proj,v_proj',
    '--max-steps',
    '3',
    '--batch-size',
    '2',
    '--lr',
    '0.01',
    '--seed',
    '3',
    '--no-progress',
    '--backend',
    'wasm',
    '--out',
    out,
    ...extra,
  );
}

describe('train --gradient-checkpointing', () => {
  it('trains to the same adapter and losses as without it (dropout included)', async () => {
    const plain = await run(join(work, 'plain'));
    expect(plain.code, plain.stderr).toBe(0);
    const checkpointed = await run(join(work, 'checkpointed'), '--gradient-checkpointing');
    expect(checkpointed.code, checkpointed.stderr).toBe(0);
    const losses = async (folder: string) =>
      (JSON.parse(await readFile(join(work, folder, 'training_log.json'), 'utf8')) as { steps: Array<{ loss: number }> }).steps.map((step) => step.loss);
    const [plainLosses, checkpointedLosses] = [await losses('plain'), await losses('checkpointed')];
    expect(checkpointedLosses.length).toBe(3);
    checkpointedLosses.forEach((loss, index) => expect(loss).toBeCloseTo(plainLosses[index]!, 5));
    const [a, b] = [
      await loadSafetensorsData(await readFile(join(work, 'plain', 'adapter_model.safetensors'))),
      await loadSafetensorsData(await readFile(join(work, 'checkpointed', 'adapter_model.safetensors'))),
    ];
    expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
    for (const key of Object.keys(a)) {
      const [x, y] = [a[key]!.values as Float32Array, b[key]!.values as Float32Array];
      let worst = 0;
      for (let index = 0; index < x.length; index++) worst = Math.max(worst, Math.abs(x[index]! - y[index]!));
      expect(worst, key).toBeLessThan(1e-5);
    }
  });
});
