import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getModelInfo, getPeftModel, InvalidConfigError, registerTuner } from '@peftjs/core';
import { maxCloseViolation } from '@peftjs/core/testing';
import { savePretrained } from '@peftjs/hub';
import { startFakeHub, type FakeHub } from '@peftjs/hub/testing';
import { lora } from '@peftjs/lora';
import { AutoModelForSeq2SeqLM, AutoPeftModel, AutoPeftModelForCausalLM, AutoPeftModelForSeq2SeqLM, generate, seq2seqLmLoss, TaskTypeMismatchError } from '@peftjs/models';
import { peftFixturePath as fixturePath } from '../../../test-fixtures/index';
import { loadPeftCase, type PeftCase } from '../../../test-fixtures/peft-case';

let fixture: PeftCase;
let scratch: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(lora);
  fixture = await loadPeftCase('opt-lora');
  scratch = await mkdtemp(join(tmpdir(), 'peftjs-auto-peft-'));
});
afterAll(async () => {
  tf.dispose(Object.values(fixture.io));
  await rm(scratch, { recursive: true, force: true });
});

async function expectAdapted(peft: Awaited<ReturnType<typeof AutoPeftModelForCausalLM.fromPretrained>>): Promise<void> {
  const before = tf.memory().numTensors;
  const logits = peft.model.predict([fixture.io.input_ids!, fixture.io.attention_mask!]) as tf.Tensor;
  expect(await maxCloseViolation(logits, fixture.io.expected_adapted!, fixture.json.atol, fixture.json.rtol)).toBe(0);
  logits.dispose();
  expect(tf.memory().numTensors).toBe(before);
}

/** A copy of an adapter folder with adapter_config.json fields replaced. */
async function adapterCopy(into: string, changes: Record<string, unknown>): Promise<string> {
  await mkdir(into, { recursive: true });
  await cp(fixturePath('opt-lora', 'adapter'), into, { recursive: true });
  const config = JSON.parse(await readFile(join(into, 'adapter_config.json'), 'utf8'));
  await writeFile(join(into, 'adapter_config.json'), JSON.stringify({ ...config, ...changes }));
  return into;
}

describe('AutoPeftModelForCausalLM.fromPretrained', () => {
  it('loads opt-lora/adapter-with-base-path with no base given ("../base", next to the adapter) and reproduces expected_adapted and the greedy ids', async () => {
    const peft = await AutoPeftModelForCausalLM.fromPretrained(fixturePath('opt-lora', 'adapter-with-base-path'));
    await expectAdapted(peft);
    const generation = fixture.json.generation;
    const before = tf.memory().numTensors;
    expect(await generate(peft.model, fixture.io.input_ids!, { maxNewTokens: generation.max_new_tokens, padTokenId: generation.pad_token_id })).toEqual(
      await fixture.io.expected_greedy_adapted!.array(),
    );
    expect(tf.memory().numTensors).toBe(before);
    // The base keeps the name the adapter gave it, as PEFT's base_model.name_or_path does.
    expect(getModelInfo(peft.baseModel).nameOrPath).toBe('../base');
    expect(peft.baseModel.trainableWeights).toHaveLength(0);
    expect(peft.model.trainableWeights).toHaveLength(0); // inference mode unless isTrainable
    peft.baseModel.dispose();
  });

  it('isTrainable and adapterName are passed on', async () => {
    const peft = await AutoPeftModelForCausalLM.fromPretrained(fixturePath('opt-lora', 'adapter-with-base-path'), { isTrainable: true, adapterName: 'mine' });
    expect(peft.activeAdapters).toEqual(['mine']);
    expect(peft.model.trainableWeights.length).toBeGreaterThan(0);
    peft.baseModel.dispose();
  });

  it('a relative base path resolves against the working directory first, then against the adapter folder', async () => {
    const root = join(scratch, 'relative');
    const adapter = await adapterCopy(join(root, 'adapters', 'a'), { base_model_name_or_path: '../base' });
    // Relative to the adapter folder, "../base" is adapters/base: a folder that is not a model.
    await mkdir(join(root, 'adapters', 'base'), { recursive: true });
    await writeFile(join(root, 'adapters', 'base', 'config.json'), '{"model_type": "not-a-model"}');
    // Relative to the working directory root/work, "../base" is root/base: the real base.
    await cp(fixturePath('opt-lora', 'base'), join(root, 'base'), { recursive: true });
    await mkdir(join(root, 'work'));
    const cwd = process.cwd();
    process.chdir(join(root, 'work'));
    try {
      const peft = await AutoPeftModelForCausalLM.fromPretrained(adapter);
      await expectAdapted(peft);
      peft.baseModel.dispose();
    } finally {
      process.chdir(cwd);
    }
    // From elsewhere the adapter-relative folder is the one found, and it is not a model.
    await expect(AutoPeftModelForCausalLM.fromPretrained(adapter)).rejects.toThrow(/not-a-model/);
  });

  it('an empty base_model_name_or_path asks for baseModelNameOrPath, which then loads', async () => {
    const error = await AutoPeftModelForCausalLM.fromPretrained(fixturePath('opt-lora', 'adapter')).catch((caught: unknown) => caught);
    expect(InvalidConfigError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/base_model_name_or_path is empty.*baseModelNameOrPath/);
    const peft = await AutoPeftModelForCausalLM.fromPretrained(fixturePath('opt-lora', 'adapter'), { baseModelNameOrPath: fixturePath('opt-lora', 'base') });
    await expectAdapted(peft);
    peft.baseModel.dispose();
  });

  it('a path that exists nowhere names both places it looked', async () => {
    const adapter = await adapterCopy(join(scratch, 'missing'), { base_model_name_or_path: '../no-such-base' });
    await expect(AutoPeftModelForCausalLM.fromPretrained(adapter)).rejects.toThrow(/working directory .*no-such-base.*adapter folder .*no-such-base/s);
  });
});

describe('AutoPeftModelForSeq2SeqLM.fromPretrained', () => {
  it('reloads a LoRA trained here on mT5 (saved with the base path it was loaded from) with the same logits', async () => {
    const mt5 = await loadPeftCase('mt5-lora-seq2seq');
    const base = await AutoModelForSeq2SeqLM.fromPretrained(mt5.baseDir);
    const peft = getPeftModel(base, { peft_type: 'LORA', task_type: 'SEQ_2_SEQ_LM', r: 2, lora_alpha: 4 });
    const inputs = [mt5.io.input_ids!, mt5.io.attention_mask!, mt5.io.decoder_input_ids!];
    const optimizer = tf.train.adam(0.05);
    for (let step = 0; step < 2; step++) optimizer.minimize(() => seq2seqLmLoss(mt5.io.labels!, peft.model.apply(inputs, { training: true }) as tf.Tensor));
    optimizer.dispose();
    const dir = join(scratch, 'mt5-trained');
    await savePretrained(peft, dir);
    const config = JSON.parse(await readFile(join(dir, 'adapter_config.json'), 'utf8'));
    expect(config).toMatchObject({ task_type: 'SEQ_2_SEQ_LM', base_model_name_or_path: mt5.baseDir, target_modules: expect.arrayContaining(['q', 'v']) });
    const reloaded = await AutoPeftModelForSeq2SeqLM.fromPretrained(dir);
    const before = tf.memory().numTensors;
    const [ours, again] = [peft.model.predict(inputs) as tf.Tensor, reloaded.model.predict(inputs) as tf.Tensor];
    expect(await maxCloseViolation(again, ours, 0, 0)).toBe(0);
    tf.dispose([ours, again]);
    expect(tf.memory().numTensors).toBe(before);
    reloaded.baseModel.dispose();
    base.dispose();
    tf.dispose(Object.values(mt5.io));
  });
});

describe('task types', () => {
  it('a class for another task type throws TaskTypeMismatchError naming the right class', async () => {
    const error = await AutoPeftModelForSeq2SeqLM.fromPretrained(fixturePath('opt-lora', 'adapter-with-base-path')).catch((caught: unknown) => caught);
    expect(TaskTypeMismatchError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ expected: 'SEQ_2_SEQ_LM', actual: 'CAUSAL_LM' });
    expect((error as Error).message).toMatch(/AutoPeftModelForSeq2SeqLM loads adapters with task_type "SEQ_2_SEQ_LM".*"CAUSAL_LM"; use AutoPeftModelForCausalLM/);
  });

  it('AutoPeftModel refuses an adapter with a task type, as PEFT does', async () => {
    const error = await AutoPeftModel.fromPretrained(fixturePath('opt-lora', 'adapter-with-base-path')).catch((caught: unknown) => caught);
    expect(TaskTypeMismatchError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/AutoPeftModel loads adapters without a task type.*use AutoPeftModelForCausalLM/);
  });

  it('AutoPeftModel loads a task-less adapter through auto_mapping.base_model_class, and refuses one without it', async () => {
    const base = fixturePath('opt-lora', 'base');
    const mapped = await adapterCopy(join(scratch, 'mapped'), {
      task_type: null,
      base_model_name_or_path: base,
      auto_mapping: { base_model_class: 'OPTForCausalLM', parent_library: 'transformers.models.opt.modeling_opt' },
    });
    const peft = await AutoPeftModel.fromPretrained(mapped);
    await expectAdapted(peft);
    peft.baseModel.dispose();
    const unmapped = await adapterCopy(join(scratch, 'unmapped'), { task_type: null, base_model_name_or_path: base });
    await expect(AutoPeftModel.fromPretrained(unmapped)).rejects.toThrow(/cannot infer the model class/);
  });
});

describe('through the Hub', () => {
  let hub: FakeHub;
  beforeAll(async () => {
    hub = await startFakeHub({ tokens: ['hf_test'] });
  });
  afterAll(async () => {
    await hub.close();
  });

  const folderFiles = async (folder: string, changes?: (name: string, bytes: Uint8Array) => Uint8Array) => {
    const files: Record<string, Uint8Array> = {};
    for (const name of await readdir(folder)) {
      const bytes = new Uint8Array(await readFile(join(folder, name)));
      files[name] = changes ? changes(name, bytes) : bytes;
    }
    return files;
  };

  it('an adapter repo whose config names a base repo: both come through the cache, at the asked revisions', async () => {
    hub.createRepo('org/tiny-opt');
    hub.commit('org/tiny-opt', await folderFiles(fixturePath('opt-lora', 'base')));
    hub.createRepo('org/tiny-opt-lora');
    const withBase = (name: string, bytes: Uint8Array) => {
      if (name !== 'adapter_config.json') return bytes;
      const config = JSON.parse(new TextDecoder().decode(bytes));
      return new TextEncoder().encode(JSON.stringify({ ...config, base_model_name_or_path: 'org/tiny-opt' }));
    };
    const first = hub.commit('org/tiny-opt-lora', await folderFiles(fixturePath('opt-lora', 'adapter'), withBase));
    // A later commit breaks the adapter on main; the first commit still loads by revision.
    hub.commit('org/tiny-opt-lora', { 'adapter_config.json': '{"peft_type": "LORA", "task_type": "SEQ_CLS", "base_model_name_or_path": "org/tiny-opt"}' });
    const options = { endpoint: hub.url, token: 'hf_test', cacheDir: join(scratch, 'hub-cache') };
    await expect(AutoPeftModelForCausalLM.fromPretrained('org/tiny-opt-lora', options)).rejects.toThrow(/has "SEQ_CLS"; use AutoPeftModelForSequenceClassification/);
    const peft = await AutoPeftModelForCausalLM.fromPretrained('org/tiny-opt-lora', { ...options, revision: first });
    await expectAdapted(peft);
    expect(getModelInfo(peft.baseModel).nameOrPath).toBe('org/tiny-opt');
    peft.baseModel.dispose();
    const paths = hub.requests.map((request) => request.url);
    expect(paths.some((path) => path.includes('/org/tiny-opt/resolve/'))).toBe(true);
  });
});
