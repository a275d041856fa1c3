import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSafetensorsData, serializeSafetensors } from '@peftjs/hub';
import { initBackend } from '@peftjs/runtime';
import { initialState, readTrainCase, recipeFlags, type TrainCase } from '../../../../test-fixtures/peft-train-case';
import { cli, REPO_ROOT } from '../__fixtures__/run';

let work: string;
let lora: TrainCase;
beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
  work = await mkdtemp(join(tmpdir(), 'peftjs-train-resume-'));
  lora = await readTrainCase('llama-lora-adamw');
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A longer run than the fixture's, with dropout, shuffling, accumulation and warm-up, so a resume has something to get wrong. */
function longRun(steps: number): string[] {
  return [
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
    String(steps),
    '--batch-size',
    '2',
    '--gradient-accumulation-steps',
    '2',
    '--lr',
    '0.005',
    '--weight-decay',
    '0.01',
    '--lr-scheduler',
    'cosine',
    '--warmup-ratio',
    '0.1',
    '--seed',
    '5',
    '--save-steps',
    '1',
    '--no-progress',
    '--backend',
    'wasm',
  ];
}

/** Every file under a folder, by relative path, with its bytes. */
async function snapshotFolder(folder: string): Promise<Map<string, Buffer>> {
  const result = new Map<string, Buffer>();
  for (const entry of await readdir(folder, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    result.set(path.slice(folder.length), await readFile(path));
  }
  return result;
}

describe('resume', () => {
  it('--resume-from-checkpoint continues bit-identically: the same log and the same final adapter, whatever --init-adapter holds', async () => {
    const reference = join(work, 'reference');
    const full = await cli('train', ...longRun(6), '--out', reference);
    expect(full.code, full.stderr).toBe(0);
    const resumedOut = join(work, 'resumed');
    // Start from another adapter's values: the checkpoint's must win.
    const resumed = await cli(
      'train',
      ...longRun(6),
      '--init-adapter',
      `${lora.folder}/final-adapter`,
      '--resume-from-checkpoint',
      join(reference, 'checkpoint-3'),
      '--out',
      resumedOut,
    );
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resuming from .*checkpoint-3 at step 3/);
    expect(Buffer.compare(await readFile(join(reference, 'adapter_model.safetensors')), await readFile(join(resumedOut, 'adapter_model.safetensors')))).toBe(0);
    expect(
      Buffer.compare(await readFile(join(reference, 'checkpoint-6', 'optimizer.safetensors')), await readFile(join(resumedOut, 'checkpoint-6', 'optimizer.safetensors'))),
    ).toBe(0);
    const strip = (log: { steps: Array<Record<string, number>> }) => log.steps.map(({ seconds: _seconds, ...rest }) => rest);
    const [a, b] = [JSON.parse(await readFile(join(reference, 'training_log.json'), 'utf8')), JSON.parse(await readFile(join(resumedOut, 'training_log.json'), 'utf8'))];
    expect(strip(b)).toEqual(strip(a));
    expect(b.resumed_from).toBe(join(reference, 'checkpoint-3'));
  });

  it('a training process killed with SIGKILL at a random moment resumes from latest to the same final adapter as an uninterrupted run', async () => {
    const steps = 40;
    const reference = join(work, 'kill-reference');
    const full = await cli('train', ...longRun(steps), '--save-total-limit', '3', '--out', reference);
    expect(full.code, full.stderr).toBe(0);

    const out = join(work, 'killed');
    const child = spawn(
      `${REPO_ROOT}node_modules/.bin/tsx`,
      ['--tsconfig', `${REPO_ROOT}tsconfig.json`, `${REPO_ROOT}packages/cli/src/bin.ts`, 'train', ...longRun(steps), '--save-total-limit', '3', '--out', out],
      { cwd: REPO_ROOT, stdio: 'ignore', detached: true },
    );
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    // Kill at a random moment in the first half of the run: once checkpoint k (random) exists, after
    // a random few milliseconds. (A fixed delay after the first checkpoint could outlast the run.)
    const target = 1 + Math.floor(Math.random() * (steps / 2));
    const reached = async () => (await readdir(out).catch(() => [] as string[])).some((name) => /^checkpoint-\d+$/.test(name) && Number(name.slice(11)) >= target);
    const deadline = Date.now() + 90_000;
    while (!(await reached()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 50));
    // The whole process group: tsx runs the CLI in a child process of its own.
    expect(child.exitCode, 'the run ended before it could be killed').toBeNull();
    process.kill(-child.pid!, 'SIGKILL');
    await exited;
    const left = (await readdir(out)).filter((name) => /^checkpoint-\d+$/.test(name));
    expect(left.length).toBeGreaterThan(0);
    console.log(`killed after ${left.sort().at(-1)}`);
    for (const name of left) {
      // A checkpoint folder is whole or absent: the writer renames a finished temporary folder.
      expect((await readdir(join(out, name))).sort(), name).toEqual([
        'adapter_config.json',
        'adapter_model.safetensors',
        'optimizer.safetensors',
        'trainable_state.safetensors',
        'trainer_state.json',
      ]);
    }
    const resumed = await cli('train', ...longRun(steps), '--save-total-limit', '3', '--resume-from-checkpoint', 'latest', '--out', out);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(Buffer.compare(await readFile(join(reference, 'adapter_model.safetensors')), await readFile(join(out, 'adapter_model.safetensors')))).toBe(0);
    expect(
      Buffer.compare(
        await readFile(join(reference, `checkpoint-${steps}`, 'trainable_state.safetensors')),
        await readFile(join(out, `checkpoint-${steps}`, 'trainable_state.safetensors')),
      ),
    ).toBe(0);
    expect((await readdir(out)).filter((name) => /^checkpoint-\d+$/.test(name)).sort()).toEqual([`checkpoint-${steps - 2}`, `checkpoint-${steps - 1}`, `checkpoint-${steps}`]);
    // What a kill mid-write left behind is gone.
    expect((await readdir(out)).filter((name) => name.startsWith('.'))).toEqual([]);
  }, 180_000);
});

describe('bad input: one line naming the key, exit 2, nothing overwritten', () => {
  let trained: string;
  let before: Map<string, Buffer>;
  beforeAll(async () => {
    trained = join(work, 'trained');
    const result = await cli('train', ...recipeFlags(lora), '--init-adapter', `${lora.folder}/init-adapter`, '--save-steps', '2', '--out', trained);
    expect(result.code, result.stderr).toBe(0);
    before = await snapshotFolder(trained);
  });

  async function refused(args: string[], message: RegExp): Promise<void> {
    const result = await cli('train', ...args);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr.trim().split('\n'), result.stderr).toHaveLength(1);
    expect(result.stderr).toMatch(message);
    const after = await snapshotFolder(trained);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [path, bytes] of before) expect(Buffer.compare(bytes, after.get(path)!), path).toBe(0);
  }

  it('refuses a checkpoint of another rank, method or base', async () => {
    const flags = recipeFlags(lora);
    await refused(
      [...flags, '--method', 'lora', '--r', '8', '--target-modules', 'q_proj,v_proj', '--resume-from-checkpoint', 'latest', '--out', trained],
      /^peftjs: error: checkpoint .*checkpoint-4 was trained with r=4, this run's adapter has r=8/,
    );
    await refused(
      [
        ...flags,
        '--method',
        'ia3',
        '--target-modules',
        'q_proj,v_proj',
        '--feedforward-modules',
        '[]',
        '--resume-from-checkpoint',
        join(trained, 'checkpoint-2'),
        '--out',
        trained,
      ],
      /holds a LORA adapter, this run trains IA3/,
    );
    const otherBase = flags.map((value) => (value === `${lora.folder}/base` ? lora.folder.replace('llama-lora-adamw', 'llama-dora-adamw') + '/base' : value));
    await refused([...otherBase, '--init-adapter', `${lora.folder}/init-adapter`, '--resume-from-checkpoint', 'latest', '--out', trained], /was trained on another base model/);
    await refused(
      [...flags, '--init-adapter', `${lora.folder}/init-adapter`, '--resume-from-checkpoint', join(trained, 'checkpoint-3'), '--out', trained],
      /checkpoint-3 does not exist/,
    );
  });

  it('refuses an --init-state with a missing, extra or mis-shaped key', async () => {
    const state = await initialState(lora);
    const [first, second] = Object.keys(state);
    const write = async (name: string, tensors: Record<string, unknown>) => {
      const path = join(work, name);
      await writeFile(path, await serializeSafetensors(tensors as never));
      return path;
    };
    const { [first!]: _missing, ...withoutFirst } = state;
    const flags = [...recipeFlags(lora), '--init-adapter', `${lora.folder}/init-adapter`, '--out', trained];
    await refused([...flags, '--init-state', await write('missing.safetensors', withoutFirst)], new RegExp(`lacks the trainable tensor "${first!.replace(/\./g, '\\.')}"`));
    await refused(
      [...flags, '--init-state', await write('extra.safetensors', { ...state, 'base_model.model.lm_head.weight': state[first!] })],
      /holds "base_model\.model\.lm_head\.weight", which is not a trainable tensor/,
    );
    await refused(
      [...flags, '--init-state', await write('shape.safetensors', { ...state, [second!]: { dtype: 'float32', shape: [2, 2], values: new Float32Array(4) } })],
      new RegExp(`"${second!.replace(/\./g, '\\.')}" has shape \\[2, 2\\]`),
    );
    await refused([...flags, '--init-state', join(work, 'absent.safetensors')], /--init-state .*absent\.safetensors does not exist/);
    const loaded = await loadSafetensorsData(await readFile(join(trained, 'adapter_model.safetensors')));
    expect(Object.keys(loaded)).toHaveLength(lora.keys.length);
  });
});
