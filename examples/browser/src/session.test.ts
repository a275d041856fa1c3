import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { fromPretrained, openSafetensors } from '@peftjs/hub';
import { AutoModelForCausalLM, generate } from '@peftjs/models';
import { initBackend } from '@peftjs/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findDemoBase } from '../demo-base';
import { SAMPLE_ID_PROMPT, SAMPLE_PROMPT, SAMPLE_QA_JSONL, sampleIdRows } from './sample-data';
import { DEFAULT_SETTINGS, Session, type TrainSettings } from './session';
import { UserError } from './user-error';

const demo = findDemoBase();
let session: Session;
let data: string;
let prompt: string;
let root: string;

async function demoFiles(): Promise<Record<string, Blob>> {
  const files: Record<string, Blob> = {};
  for (const file of demo.files) files[file] = new Blob([new Uint8Array(await readFile(join(demo.dir, file)))]);
  return files;
}

const settings = (overrides: Partial<TrainSettings>): TrainSettings => ({ ...DEFAULT_SETTINGS, steps: 8, ...overrides });

function maxDifference(a: readonly number[], b: readonly number[]): number {
  expect(a.length).toBe(b.length);
  return Math.max(...a.map((value, index) => Math.abs(value - b[index]!)));
}

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
  root = await mkdtemp(join(tmpdir(), 'peftjs-browser-session-'));
  session = new Session();
  const summary = await session.loadModel(await demoFiles(), demo.name);
  data = summary.hasTokenizer ? SAMPLE_QA_JSONL : sampleIdRows(summary.vocabSize ?? 128);
  prompt = summary.hasTokenizer ? SAMPLE_PROMPT : SAMPLE_ID_PROMPT;
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('Session (the Web Worker’s engine, run in Node)', () => {
  it('loads the demo base from in-memory files and generates without an adapter', async () => {
    const summary = session.modelSummary();
    expect(summary).toMatchObject({ name: demo.name, modelType: 'llama', architecture: 'LlamaForCausalLM' });
    expect(summary.parameters).toBeGreaterThan(0);
    const report = await session.generate(prompt, 6);
    expect(report.adapted).toBeUndefined();
    expect(report.base.ids.length).toBeGreaterThan(0);
    expect(report.base.logits).toHaveLength(summary.vocabSize!);
  });

  for (const method of ['lora', 'ia3', 'prompt-tuning'] as const) {
    it(`trains ${method}: the loss falls, and the adapter files load in Node with fromPretrained to the same outputs`, async () => {
      const learningRate = method === 'lora' ? 1e-2 : 3e-2;
      const losses: number[] = [];
      const report = await session.train(data, settings({ method, learningRate, steps: 10 }), { onStep: (step) => losses.push(step.loss) });
      expect(report.steps).toBe(10);
      expect(losses).toHaveLength(10);
      expect(report.dataLossAfter).toBeLessThan(report.dataLossBefore);
      expect(report.adapter.adapterParameters).toBeGreaterThan(0);
      const generated = await session.generate(prompt, 6);
      expect(generated.adapted).toBeDefined();

      const files = await session.adapterFiles();
      const dir = join(root, method);
      await import('node:fs/promises').then(({ mkdir }) => mkdir(dir, { recursive: true }));
      await writeFile(join(dir, 'adapter_config.json'), files['adapter_config.json']);
      await writeFile(join(dir, 'adapter_model.safetensors'), files['adapter_model.safetensors']);
      expect(JSON.parse(files['adapter_config.json'])).toMatchObject({ base_model_name_or_path: demo.name, task_type: 'CAUSAL_LM', inference_mode: true });

      const base = await AutoModelForCausalLM.fromPretrained(demo.dir);
      const loaded = await fromPretrained(base, dir);
      const ids = [generated.promptIds];
      const sequences = await generate(loaded.model, ids, { maxNewTokens: 6, doSample: false });
      expect(sequences[0]!.slice(generated.promptIds.length)).toEqual(generated.adapted!.ids);
      const logits = tf.tidy(() => {
        const inputIds = tf.tensor2d(ids, undefined, 'int32');
        const output = loaded.model.predict([inputIds, tf.cast(tf.onesLike(inputIds), 'float32')]) as tf.Tensor;
        const [, seq, vocab] = output.shape as number[];
        return tf.reshape(tf.slice(output, [0, seq! - 1, 0], [1, 1, vocab!]), [-1]);
      });
      expect(maxDifference(Array.from(await logits.data()), generated.adapted!.logits)).toBeLessThan(1e-4);
      logits.dispose();
      loaded.model.dispose();
    });
  }

  it('frees what it replaces: training again, generating and loading adapters leave no tensors behind', async () => {
    const lora = settings({ method: 'lora', steps: 3 });
    await session.train(data, lora);
    await session.generate(prompt, 3);
    const count = tf.memory().numTensors;
    await session.train(data, lora);
    await session.generate(prompt, 3);
    await session.loadAdapter(await session.adapterFiles(), 'again/');
    expect(tf.memory().numTensors).toBe(count);
  });

  it('stops between steps and keeps the adapter trained so far', async () => {
    let steps = 0;
    const report = await session.train(data, settings({ steps: 20 }), { onStep: () => steps++, shouldStop: () => steps >= 3 });
    expect(report).toMatchObject({ steps: 3, stopped: true });
    expect(session.hasAdapter).toBe(true);
  });

  it('says what is wrong with bad input, and keeps the adapter it has', async () => {
    const before = await session.generate(prompt, 4);
    const good = await session.adapterFiles();
    const refuse = async (promise: Promise<unknown>, pattern: RegExp) => {
      const error = await promise.then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(UserError);
      expect((error as Error).message).toMatch(pattern);
    };
    await refuse(session.train('', settings({})), /training data is empty/);
    await refuse(session.train('  \n\n ', settings({})), /training data is empty/);
    await refuse(session.train('{"input_ids": [1, 2, 3]}\n{"oops": 1}', settings({})), /row 2: a row needs "text"/);
    await refuse(session.train('{"text": "a"}\n{not json', settings({})), /JSONL line 2 is not JSON/);
    await refuse(session.train(data, settings({ learningRate: -1 })), /learning rate/);
    await refuse(session.train(data, settings({ targetModules: ['q_prj'] })), /settings do not fit this model: .*q_prj/);
    // A batch whose activations cannot fit the 4 GiB wasm heap: refused before it starts, naming what helps.
    const count = tf.memory().numTensors;
    await refuse(
      session.train(data, settings({ batchSize: 1_000_000 })),
      /not enough memory to train at batch 1000000 × \d+: needs .* of wasm heap .*options that help: .*gradient checkpointing, a smaller batch \(batch size 500000\)/,
    );
    expect(tf.memory().numTensors).toBe(count);
    await refuse(
      session.loadAdapter({ 'adapter_config.json': '{"peft_type":', 'adapter_model.safetensors': good['adapter_model.safetensors'] }, 'broken/'),
      /broken\/ is not a valid adapter: .*not valid JSON/,
    );
    await refuse(
      session.loadAdapter({ 'adapter_config.json': good['adapter_config.json'], 'adapter_model.safetensors': new Uint8Array([9, 9, 9]) }, 'broken/'),
      /broken\/ is not a valid adapter/,
    );
    await refuse(session.loadAdapter({ 'adapter_config.json': good['adapter_config.json'] }, 'half/'), /half\/ lacks adapter_model\.safetensors/);
    // An adapter made with Python PEFT for GPT-2: its targets are not in a LLaMA.
    const gpt2 = join(import.meta.dirname, '../../../test-fixtures/peft/gpt2-lora/adapter');
    await refuse(
      session.loadAdapter(
        { 'adapter_config.json': await readFile(join(gpt2, 'adapter_config.json'), 'utf8'), 'adapter_model.safetensors': await readFile(join(gpt2, 'adapter_model.safetensors')) },
        'gpt2-lora/',
      ),
      /does not fit the loaded model .*c_attn/,
    );
    // A LoRA made with Python PEFT for a smaller LLaMA (unless that LLaMA is the demo base): same names, other shapes.
    if (!demo.dir.includes('llama-lora')) {
      const llama = join(import.meta.dirname, '../../../test-fixtures/peft/llama-lora/adapter');
      const llamaConfig = JSON.parse(await readFile(join(llama, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
      await refuse(
        session.loadAdapter(
          {
            'adapter_config.json': JSON.stringify({ ...llamaConfig, base_model_name_or_path: 'tiny/llama' }),
            'adapter_model.safetensors': await readFile(join(llama, 'adapter_model.safetensors')),
          },
          'llama-lora/',
        ),
        /does not fit the loaded model \(.+\): tensor "base_model\.model\.model\.layers\.0\.self_attn\.k_proj\.lora_A\.weight" has shape \[4, 32\]; the model expects \[4, 128\]\. It was made for "tiny\/llama"\.$/,
      );
    }
    const after = await session.generate(prompt, 4);
    expect(after.adapted!.ids).toEqual(before.adapted!.ids);
    expect(maxDifference(after.adapted!.logits, before.adapted!.logits)).toBe(0);
  });

  it('loads an adapter from its files in place of the current one', async () => {
    const trained = await session.generate(prompt, 4);
    const files = await session.adapterFiles();
    await session.train(data, settings({ method: 'ia3', steps: 2 }));
    const summary = await session.loadAdapter(files, 'my-adapter/');
    expect(summary).toMatchObject({ peftType: 'LORA', origin: 'loaded' });
    const reloaded = await session.generate(prompt, 4);
    expect(reloaded.adapted!.ids).toEqual(trained.adapted!.ids);
    expect(maxDifference(reloaded.adapted!.logits, trained.adapted!.logits)).toBeLessThan(1e-5);
    expect(maxDifference(reloaded.base.logits, trained.base.logits)).toBe(0);
  });

  it('keeps the frozen weights outside the heap when asked (float32 the same as tensors, bfloat16 close), and trains with checkpointing', async () => {
    const files = await demoFiles();
    const reference = (await session.generate(prompt, 4)).base;
    const stored = new Session();
    const summary = await stored.loadModel(files, demo.name, { storage: 'float32' });
    expect(summary.storage).toBe('float32');
    expect(summary.storedBytes).toBeGreaterThan(0);
    expect(summary.storageLabel).toMatch(/float32 outside the tfjs heap/);
    // The same weights read through the array store: the same outputs as float32 tensors.
    const base = (await stored.generate(prompt, 4)).base;
    expect(base.ids).toEqual(reference.ids);
    expect(maxDifference(base.logits, reference.logits)).toBeLessThan(1e-5);

    const half = await stored.loadModel(files, demo.name, { storage: 'bfloat16' });
    expect(half.storedBytes).toBe(summary.storedBytes / 2);
    const halfLogits = (await stored.generate(prompt, 4)).base.logits;
    expect(maxDifference(halfLogits, reference.logits)).toBeLessThan(0.1);
    expect(maxDifference(halfLogits, reference.logits)).toBeGreaterThan(0);
    const count = tf.memory().numTensors;
    const steps: number[] = [];
    const report = await stored.train(data, settings({ method: 'lora', steps: 6, gradientCheckpointing: true }), { onStep: (step) => steps.push(step.stepSeconds) });
    expect(report.dataLossAfter).toBeLessThan(report.dataLossBefore);
    expect(steps).toHaveLength(6);
    expect(steps.every((seconds) => seconds > 0)).toBe(true);
    // The adapter's weights and Adam state are what stays; a second run frees the first one's.
    const afterFirst = tf.memory().numTensors;
    await stored.train(data, settings({ method: 'lora', steps: 2, gradientCheckpointing: true }));
    expect(tf.memory().numTensors).toBe(afterFirst);
    expect(afterFirst).toBeGreaterThan(count);

    // A storage that does not exist: refused, the loaded model kept.
    const error = await stored.loadModel(files, demo.name, { storage: 'int3' as never }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toMatch(/unknown weight storage "int3"; one of auto, heap, float32, bfloat16/);
    expect(stored.modelSummary().storage).toBe('bfloat16');
  });

  it("builds GPT-2's Conv1D layers over the store too (saved [in, out], stored transposed): the outputs of float32 tensors", async () => {
    const folder = join(import.meta.dirname, '../../../test-fixtures/peft/gpt2-lora/base');
    const files: Record<string, Blob> = {};
    for (const file of ['config.json', 'model.safetensors']) files[file] = new Blob([new Uint8Array(await readFile(join(folder, file)))]);
    const heap = new Session();
    await heap.loadModel(files, 'gpt2', { storage: 'heap' });
    const stored = new Session();
    const summary = await stored.loadModel(files, 'gpt2', { storage: 'float32' });
    // Every 2-D weight went to the store (wte, wpe, c_attn, c_proj, c_fc), as in Node's store.
    const header = await openSafetensors(files['model.safetensors']!);
    const matrices = header.header.tensors.filter((tensor) => tensor.shape.length === 2).reduce((sum, tensor) => sum + tensor.shape[0]! * tensor.shape[1]!, 0);
    await header.close();
    expect(summary.storedBytes).toBe(4 * matrices);
    const expected = await heap.generate('1 2 3 4', 3);
    const actual = await stored.generate('1 2 3 4', 3);
    expect(actual.base.ids).toEqual(expected.base.ids);
    expect(maxDifference(actual.base.logits, expected.base.logits)).toBeLessThan(1e-5);
  });
});
