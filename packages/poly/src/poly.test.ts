import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getLayerByPath, getPeftModel, MergeError, PeftModel, registerTuner, setModelInfo, setWarningHandler, UnsupportedLayerError, type ForwardContext } from '@peftjs/core';
import { assertClose, describeTunerConformance, maxAbsDifference } from '@peftjs/core/testing';
import { peftCase, peftFixturePath } from '../../../test-fixtures/index';
import { loadFixtureBaseModel, loadFixtureTensors } from '../../../test-fixtures/torch-models';
import { FanInFanOutDense } from './__fixtures__/fan-in-fan-out-dense';
import { createPolyConfig, mixingWeights, poly, PolyDense, TaskIdsError } from './index';

const CASE = 'mlp-poly';

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(poly);
  setWarningHandler(() => {});
});

/** The fixture's MLP on sequences [batch, seq, 10] (Poly needs 3-D inputs, as PEFT's bmm), with its base weights. */
async function sequenceMlp(): Promise<tfl.LayersModel> {
  const flat = await loadFixtureBaseModel(CASE);
  const x = tfl.input({ shape: [null as unknown as number, 10], name: 'x' });
  let h = x;
  for (const layer of flat.layers.slice(1)) {
    const copy =
      layer.getClassName() === 'Dense'
        ? tfl.layers.dense({ units: layer.getConfig().units as number, name: layer.name })
        : tfl.layers.activation({ activation: 'relu', name: layer.name });
    h = copy.apply(h) as tfl.SymbolicTensor;
    if (layer.weights.length > 0) copy.setWeights(layer.getWeights());
  }
  return tfl.model({ inputs: x, outputs: h });
}

describe('Poly parity with Python PEFT (mlp-poly)', () => {
  it('routes each row by its task id: adapted and disabled outputs and the saved tensors match', async () => {
    const json = peftCase(CASE);
    const { atol, rtol } = json;
    const io = await loadFixtureTensors(CASE, 'io.safetensors');
    const saved = await loadFixtureTensors(CASE, 'adapter', 'adapter_model.safetensors');
    const config = JSON.parse(readFileSync(peftFixturePath(CASE, 'adapter', 'adapter_config.json'), 'utf8'));
    const model = await sequenceMlp();
    await assertClose(model.predict(io.x!) as tf.Tensor, io.expected_base!, { atol, rtol, message: 'base' });
    const peftModel = new PeftModel(model, config);
    expect(peftModel.getStateDictShapes()).toEqual(json.adapters[0].tensors);
    const before = tf.memory().numTensors;
    peftModel.loadStateDict(saved);
    expect(tf.memory().numTensors).toBe(before);
    const taskIds = Array.from(await io.task_ids!.data());
    expect(taskIds).toEqual([2, 0]);
    const adapted = peftModel.predict(io.x!, { taskIds }) as tf.Tensor;
    await assertClose(adapted, io.expected_adapted!, { atol, rtol, message: 'adapted' });
    const disabled = peftModel.disableAdapter(() => peftModel.predict(io.x!, { taskIds }) as tf.Tensor);
    await assertClose(disabled, io.expected_disabled!, { atol, rtol, message: 'disabled' });
    // Row by row, each with its own task, gives the same rows.
    for (const row of [0, 1]) {
      const single = peftModel.predict(tf.slice(io.x!, [row, 0, 0], [1, -1, -1]), { taskIds: [taskIds[row]!] }) as tf.Tensor;
      await assertClose(single, tf.slice(io.expected_adapted!, [row, 0, 0], [1, -1, -1]), { atol, rtol, message: `row ${row}` });
    }
    const ours = peftModel.getStateDict();
    expect(Object.keys(ours).sort()).toEqual(Object.keys(saved).sort());
    for (const key of Object.keys(saved)) await assertClose(ours[key]!, saved[key]!, { atol: 0, rtol: 0, message: key });
    tf.dispose([adapted, disabled, ...Object.values(ours), ...Object.values(saved), ...Object.values(io)]);
  });

  it('fails a forward without task ids, with too few, or with an unknown task, with a typed error', async () => {
    const model = await sequenceMlp();
    const peftModel = getPeftModel(model, createPolyConfig({ r: 2, nTasks: 3, targetModules: ['lin0', 'lin1'], initWeights: false }));
    const x = tf.randomNormal([2, 3, 10]);
    expect(() => peftModel.model.predict(x)).toThrow(TaskIdsError);
    expect(() => peftModel.model.predict(x)).toThrow(/task_ids should not be None.*predict\(inputs, \{ taskIds/);
    expect(() => peftModel.predict(x, { taskIds: [0, 3] })).toThrow(/Only 3 tasks available\. Found task id = 3/);
    expect(
      TaskIdsError.isInstance(
        (() => {
          try {
            peftModel.predict(x, { taskIds: [0, 3] });
          } catch (error) {
            return error;
          }
        })(),
      ),
    ).toBe(true);
    // A batch larger than tfjs predict()'s default chunk of 32 rows keeps its task ids row by row.
    const large = tf.randomNormal([40, 3, 10], 0, 1, 'float32', 4);
    const largeIds = Array.from({ length: 40 }, (_, row) => row % 3);
    const whole = peftModel.predict(large, { taskIds: largeIds }) as tf.Tensor;
    const last = peftModel.predict(tf.slice(large, [39, 0, 0], [1, -1, -1]), { taskIds: [largeIds[39]!] }) as tf.Tensor;
    expect(await maxAbsDifference(tf.slice(whole, [39, 0, 0], [1, -1, -1]), last)).toBeLessThan(1e-5);
    await expect(peftModel.mergeAdapter()).rejects.toSatisfy((error: unknown) => MergeError.isInstance(error));
    const unloaded = peftModel.unload();
    expect(unloaded.layers.some((layer) => layer instanceof PolyDense)).toBe(false);
    x.dispose();
  });
});

describe('Poly routing', () => {
  it('splits the input and output axes per routing head (n_splits > 1), each split with its own skill mixture', async () => {
    const model = await sequenceMlp();
    const peftModel = getPeftModel(model, createPolyConfig({ r: 2, nTasks: 2, nSkills: 3, nSplits: 2, targetModules: ['lin1'], initWeights: false }));
    const layer = getLayerByPath(peftModel.model, 'lin1') as PolyDense;
    const params = layer.adapterParameters('default');
    expect(params.get('poly_lora_A.default')!.torchShape).toEqual([2, 3, 10, 2]);
    expect(params.get('poly_lora_B.default')!.torchShape).toEqual([2, 3, 2, 10]);
    expect(params.get('poly_router.default.module_logits')!.torchShape).toEqual([2, 6]);
    const logits = params.get('poly_router.default.module_logits')!.variable;
    const perturbed = tf.randomNormal([2, 6], 0, 1, 'float32', 5);
    logits.write(perturbed);
    perturbed.dispose();
    // A hand-built reference: per split q, A_q = Σ_s w[q, s] A[q, s] (rows q·10 … q·10+9 of A), B_q likewise (columns).
    const x = tf.randomNormal([1, 4, 20], 0, 1, 'float32', 6);
    const weights = mixingWeights(logits.read(), [1], 2, 3, false);
    const w = (await weights.array())[0]!;
    const a = (await params.get('poly_lora_A.default')!.variable.read().array()) as number[][][][];
    const b = (await params.get('poly_lora_B.default')!.variable.read().array()) as number[][][][];
    const mix = (factor: number[][][][], q: number) => factor[q]![0]!.map((row, i) => row.map((_, j) => factor[q]!.reduce((sum, skill, s) => sum + w[q]![s]! * skill[i]![j]!, 0)));
    const fullA = tf.concat([tf.tensor2d(mix(a, 0)), tf.tensor2d(mix(a, 1))], 0);
    const fullB = tf.concat([tf.tensor2d(mix(b, 0)), tf.tensor2d(mix(b, 1))], 1);
    const expected = tf.add(layer.baseLayer.apply(x) as tf.Tensor, tf.div(tf.reshape(tf.matMul(tf.matMul(tf.reshape(x, [4, 20]), fullA), fullB), [1, 4, 20]), 2));
    const context = { taskIds: [1] } as ForwardContext;
    const actual = withContext(context, () => layer.apply(x) as tf.Tensor);
    await assertClose(actual, expected, { atol: 1e-5, rtol: 1e-5 });
    // The skill weights of each split sum to 1.
    await assertClose(tf.sum(weights, -1), tf.ones([1, 2]), { atol: 1e-6, rtol: 0 });
    // In training the router samples (RelaxedBernoulli): two calls differ, still normalised.
    const sampled = mixingWeights(logits.read(), [1, 1], 2, 3, true);
    expect(await maxAbsDifference(tf.slice(sampled, [0, 0, 0], [1, -1, -1]), tf.slice(sampled, [1, 0, 0], [1, -1, -1]))).toBeGreaterThan(1e-4);
    await assertClose(tf.sum(sampled, -1), tf.ones([2, 2]), { atol: 1e-5, rtol: 0 });
  });

  it('wraps torch-Linear layers only: GPT-2 Conv1D is refused, naming the layer', () => {
    const x = tfl.input({ shape: [3, 6] });
    const h = new FanInFanOutDense({ name: 'c_attn', units: 6 }).apply(x) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: x, outputs: h });
    expect(() => getPeftModel(model, createPolyConfig({ targetModules: ['c_attn'] }))).toThrow(UnsupportedLayerError);
    expect(() => getPeftModel(model, createPolyConfig({ targetModules: ['c_attn'] }))).toThrow(/c_attn/);
  });

  it("fills LoRA's default targets per model type (llama: q_proj, v_proj) and refuses unknown poly types", () => {
    const x = tfl.input({ shape: [2, 4] });
    let h = x;
    for (const name of ['model.layers.0.self_attn.q_proj', 'model.layers.0.self_attn.v_proj', 'lm_head']) h = tfl.layers.dense({ units: 4, name }).apply(h) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: x, outputs: h });
    setModelInfo(model, { modelType: 'llama' });
    expect(getPeftModel(model, { peft_type: 'POLY', r: 2, n_skills: 2, n_splits: 2 }).targetedModuleNames).toEqual([
      'model.layers.0.self_attn.q_proj',
      'model.layers.0.self_attn.v_proj',
    ]);
    expect(() => createPolyConfig({ polyType: 'mhr' as 'poly' })).toThrow(/poly_type.*"poly"/);
  });
});

/** Runs a forward with per-row task ids in the context, as PeftModel.predict does. */
function withContext<T>(context: ForwardContext, run: () => T): T {
  const stack = contextStack();
  stack.push(context);
  try {
    return run();
  } finally {
    stack.pop();
  }
}

/**
 * The conformance kit calls the model directly; its batches of 4 rows run with task ids 0, 1, 2, 0
 * pushed on core's forward-context stack for the whole suite.
 */
function contextStack(): ForwardContext[] {
  const store = (globalThis as unknown as Record<symbol, Map<string, unknown>>)[Symbol.for('peftjs.registries.v1')]!;
  if (!store.has('forwardContext')) store.set('forwardContext', []);
  return store.get('forwardContext') as ForwardContext[];
}

describe('Poly conformance (task ids 0, 1, 2, 0 for every forward)', () => {
  beforeAll(() => {
    contextStack().push({ taskIds: [0, 1, 2, 0] });
  });
  afterAll(() => {
    contextStack().pop();
  });
  const init = (seed: number) => tfl.initializers.randomNormal({ mean: 0, stddev: 0.5, seed });
  const sequenceNet = () => {
    const x = tfl.input({ shape: [3, 8] });
    let h = tfl.layers.dense({ units: 8, name: 'lin0', kernelInitializer: init(1), biasInitializer: init(2) }).apply(x) as tfl.SymbolicTensor;
    h = tfl.layers.activation({ activation: 'relu', name: 'relu0' }).apply(h) as tfl.SymbolicTensor;
    return tfl.model({ inputs: x, outputs: tfl.layers.dense({ units: 4, name: 'lin1', kernelInitializer: init(3), biasInitializer: init(4) }).apply(h) as tfl.SymbolicTensor });
  };
  const inputs = () => tf.randomNormal([4, 3, 8], 0, 1, 'float32', 9);
  describeTunerConformance(poly, [
    { name: 'Dense, 3 tasks, 4 skills', makeModel: sequenceNet, makeInputs: inputs, config: { r: 2, n_tasks: 3, target_modules: ['lin0', 'lin1'] }, mergeable: false },
    {
      name: 'Dense, multi-head routing (2 splits) + modules_to_save',
      makeModel: sequenceNet,
      makeInputs: inputs,
      config: { r: 2, n_tasks: 3, n_skills: 2, n_splits: 2, target_modules: ['lin0'], modules_to_save: ['lin1'] },
      otherConfig: { r: 4, n_tasks: 4, n_splits: 4, target_modules: ['lin0'] },
      mergeable: false,
    },
  ]);
});
