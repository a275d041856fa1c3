import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AdapterStateError,
  getLayerByPath,
  getPeftModel,
  InvalidConfigError,
  registerLayerFormat,
  registerLinearLayerClass,
  registerTuner,
  setWarningHandler,
  UnsupportedLayerError,
  withForwardContext,
  type PeftModel,
} from '@peftjs/core';
import { maxAbsDifference, perturbAdapter } from '@peftjs/core/testing';
import { convNet, convInputs, embeddingInputs, embeddingNet, mlp, mlpInputs } from './__fixtures__/models';
import { createLoraConfig, lora, LoraConv2D, LoraDense, LoraEmbedding, type LoraConfigOptions, type LoraLayer } from './index';

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(lora);
});

function loraLayer(peftModel: PeftModel, path: string): LoraLayer {
  return getLayerByPath(peftModel.model, path) as LoraLayer;
}

function disposeWeights(model: tfl.LayersModel): void {
  for (const weight of model.weights) if (!weight.read().isDisposed) weight.dispose();
}

async function values(tensor: tf.Tensor): Promise<Float32Array> {
  return (await tensor.data()) as Float32Array;
}

function withWarnings<T>(run: () => T): { result: T; warnings: string[] } {
  const warnings: string[] = [];
  const previous = setWarningHandler((message) => warnings.push(message));
  try {
    return { result: run(), warnings };
  } finally {
    setWarningHandler(previous);
  }
}

/** Named-layer model: net.linear (Dense), net.embed (Embedding), net.conv2d (Conv2D), for per-path patterns. */
function namedNet(): tfl.LayersModel {
  const ids = tfl.input({ shape: [4], dtype: 'int32' });
  const img = tfl.input({ shape: [5, 5, 3] });
  const embedded = tfl.layers.embedding({ inputDim: 10, outputDim: 6, name: 'net.embed' }).apply(ids) as tfl.SymbolicTensor;
  const pooled = tfl.layers.globalAveragePooling1d({}).apply(embedded) as tfl.SymbolicTensor;
  const conv = tfl.layers.conv2d({ filters: 6, kernelSize: 3, name: 'net.conv2d' }).apply(img) as tfl.SymbolicTensor;
  const convPooled = tfl.layers.globalAveragePooling2d({}).apply(conv) as tfl.SymbolicTensor;
  const sum = tfl.layers.add({}).apply([pooled, convPooled]) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 2, name: 'net.linear' }).apply(sum) as tfl.SymbolicTensor;
  return tfl.model({ inputs: [ids, img], outputs: out });
}

describe('scaling, rank and alpha patterns', () => {
  it('follows PEFT: first matching key over rank_pattern then alpha_pattern, used for both lookups', () => {
    const model = namedNet();
    const peftModel = getPeftModel(
      model,
      createLoraConfig({ r: 25, targetModules: ['linear', 'embed', 'conv2d'], rankPattern: { embed: 9, conv2d: 16 }, alphaPattern: { linear: 11, conv2d: 13 }, loraAlpha: 17 }),
    );
    const settings = (path: string) => loraLayer(peftModel, path).adapterSettings('default');
    expect(settings('net.linear')).toMatchObject({ r: 25, loraAlpha: 11, scaling: 11 / 25 });
    expect(settings('net.embed')).toMatchObject({ r: 9, loraAlpha: 17, scaling: 17 / 9 });
    expect(settings('net.conv2d')).toMatchObject({ r: 16, loraAlpha: 13, scaling: 13 / 16 });
    expect(loraLayer(peftModel, 'net.embed')).toBeInstanceOf(LoraEmbedding);
    expect(loraLayer(peftModel, 'net.conv2d')).toBeInstanceOf(LoraConv2D);
    const shapes = peftModel.getStateDictShapes();
    expect(shapes['base_model.model.net.conv2d.lora_A.weight']).toEqual([16, 3, 3, 3]);
    expect(shapes['base_model.model.net.conv2d.lora_B.weight']).toEqual([6, 16, 1, 1]);
    expect(shapes['base_model.model.net.embed.lora_embedding_A']).toEqual([9, 10]);
    expect(shapes['base_model.model.net.embed.lora_embedding_B']).toEqual([6, 9]);
    expect(shapes['base_model.model.net.linear.lora_A.weight']).toEqual([25, 6]);
    disposeWeights(peftModel.unload());
  });

  it('keeps PEFT quirks: an alpha key found first hides a rank key; top-level names match exactly; rsLoRA uses α/√r', () => {
    const peftModel = getPeftModel(
      mlp(),
      createLoraConfig({ r: 4, loraAlpha: 8, useRslora: true, targetModules: ['lin0', 'lin1'], rankPattern: { lin0: 2 }, alphaPattern: { 'lin.*': 3 } }),
    );
    // "lin0" has no dot before it, so the regex `.*\.lin0$` fails and the exact path is the key.
    expect(loraLayer(peftModel, 'lin0').adapterSettings('default')).toMatchObject({ r: 2, loraAlpha: 8, scaling: 8 / Math.sqrt(2) });
    expect(loraLayer(peftModel, 'lin1').adapterSettings('default')).toMatchObject({ r: 4, loraAlpha: 8, scaling: 4 });
    disposeWeights(peftModel.unload());
    const nested = getPeftModel(namedNet(), createLoraConfig({ r: 4, targetModules: ['linear'], rankPattern: { 'lin.*': 2 }, alphaPattern: { linear: 5 } }));
    // `lin.*` (rank_pattern) matches first, so alpha is looked up under `lin.*` too and falls back to lora_alpha.
    expect(loraLayer(nested, 'net.linear').adapterSettings('default')).toMatchObject({ r: 2, loraAlpha: 8 });
    disposeWeights(nested.unload());
  });
});

describe('initialisation', () => {
  function wide(): tfl.LayersModel {
    return tfl.sequential({ layers: [tfl.layers.dense({ units: 64, inputShape: [400], name: 'lin' })] });
  }

  async function factors(options: LoraConfigOptions, makeModel: () => tfl.LayersModel = wide, path = 'lin'): Promise<{ a: Float32Array; b: Float32Array }> {
    const peftModel = getPeftModel(makeModel(), createLoraConfig({ targetModules: [path], r: 16, ...options }));
    const state = peftModel.getStateDict();
    const [a, b] = Object.keys(state)
      .sort()
      .map((key) => state[key]!);
    const result = { a: await values(a!), b: await values(b!) };
    tf.dispose(Object.values(state));
    disposeWeights(peftModel.unload());
    return result;
  }

  const std = (array: Float32Array) => Math.sqrt(array.reduce((sum, value) => sum + value * value, 0) / array.length);
  const maxAbs = (array: Float32Array) => array.reduce((max, value) => Math.max(max, Math.abs(value)), 0);

  it('true: A ~ U(±1/√in) (nn.Linear default), B = 0', async () => {
    const { a, b } = await factors({});
    expect(maxAbs(a)).toBeLessThanOrEqual(1 / Math.sqrt(400));
    expect(std(a)).toBeCloseTo(1 / Math.sqrt(400) / Math.sqrt(3), 2);
    expect(maxAbs(b)).toBe(0);
  });

  it('"gaussian": A ~ N(0, std 1/r), B = 0', async () => {
    const { a, b } = await factors({ initLoraWeights: 'gaussian' });
    expect(std(a)).toBeGreaterThan((1 / 16) * 0.9);
    expect(std(a)).toBeLessThan((1 / 16) * 1.1);
    expect(maxAbs(b)).toBe(0);
  });

  it('false: both random (B ~ U(±1/√r)), so the output differs from the base', async () => {
    const { b } = await factors({ initLoraWeights: false });
    expect(maxAbs(b)).toBeGreaterThan(0);
    expect(maxAbs(b)).toBeLessThanOrEqual(1 / 4);
  });

  it('Embedding: A = 0 and B ~ N(0, 1) by default; both ~ N(0, 1) for false', async () => {
    const big = () => tfl.sequential({ layers: [tfl.layers.embedding({ inputDim: 300, outputDim: 40, inputShape: [3], name: 'emb' })] });
    const init = await factors({}, big, 'emb');
    expect(maxAbs(init.a)).toBe(0);
    expect(std(init.b)).toBeGreaterThan(0.85);
    expect(std(init.b)).toBeLessThan(1.15);
    const random = await factors({ initLoraWeights: false }, big, 'emb');
    expect(std(random.a)).toBeGreaterThan(0.85);
  });

  it('Conv2D: A bound uses fan-in in·kh·kw', async () => {
    const conv = () => tfl.sequential({ layers: [tfl.layers.conv2d({ filters: 8, kernelSize: 3, inputShape: [6, 6, 40], name: 'conv' })] });
    const { a, b } = await factors({}, conv, 'conv');
    expect(maxAbs(a)).toBeLessThanOrEqual(1 / Math.sqrt(360));
    expect(maxAbs(a)).toBeGreaterThan(0.9 / Math.sqrt(360));
    expect(maxAbs(b)).toBe(0);
  });
});

describe('DoRA', () => {
  it('is a no-op at init, and its gradient treats the weight norm as a constant (checked by finite differences)', async () => {
    const model = tfl.sequential({
      layers: [tfl.layers.dense({ units: 3, inputShape: [4], name: 'lin', kernelInitializer: tfl.initializers.randomNormal({ seed: 1 }), biasInitializer: 'ones' })],
    });
    const x = tf.tensor2d([
      [0.5, -1, 2, 0.3],
      [1.5, 0.2, -0.7, 1],
    ]);
    const base = model.predict(x) as tf.Tensor;
    const peftModel = getPeftModel(model, createLoraConfig({ r: 2, loraAlpha: 3, useDora: true, targetModules: ['lin'] }));
    const atInit = peftModel.model.predict(x) as tf.Tensor;
    expect(await maxAbsDifference(atInit, base)).toBeLessThan(1e-6);
    await perturbAdapter(peftModel, 'default', 0.5, 3);
    const layer = loraLayer(peftModel, 'lin');
    const params = layer.adapterParameters('default');
    const before = tf.memory().numTensors;

    // tfjs gradients of L = Σ c ⊙ y.
    const c = tf.tensor2d([
      [1, -2, 0.5],
      [0.3, 1, -1],
    ]);
    const variables = [...params.values()].map((param) => param.variable.read() as tf.Variable);
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(peftModel.model.apply(x) as tf.Tensor, c)) as tf.Scalar, variables);

    // The same loss in float64 JS, with the norm either frozen at the current point (detached) or recomputed.
    const kernel = Array.from(await layer.kernel.read().data()); // [in=4, out=3]
    const biasValues = [1, 1, 1];
    const xs = Array.from(await x.data());
    const cs = Array.from(await c.data());
    const scaling = 3 / 2;
    const lossOf = (a: number[], b: number[], m: number[], frozenNorm: number[] | undefined): number => {
      // a: tfjs [4, 2], b: tfjs [2, 3]
      const weight = (i: number, o: number) => kernel[i * 3 + o]!;
      const delta = (i: number, o: number) => a[i * 2]! * b[o]! + a[i * 2 + 1]! * b[3 + o]!;
      const norm = frozenNorm ?? [0, 1, 2].map((o) => Math.sqrt([0, 1, 2, 3].reduce((sum, i) => sum + (weight(i, o) + scaling * delta(i, o)) ** 2, 0)));
      let loss = 0;
      for (let row = 0; row < 2; row++) {
        for (let o = 0; o < 3; o++) {
          let xw = 0;
          let lora = 0;
          for (let i = 0; i < 4; i++) {
            xw += xs[row * 4 + i]! * weight(i, o);
            lora += xs[row * 4 + i]! * delta(i, o);
          }
          const scale = m[o]! / norm[o]!;
          const y = xw + biasValues[o]! + (scale - 1) * xw + scale * scaling * lora;
          loss += cs[row * 3 + o]! * y;
        }
      }
      return loss;
    };
    const a0 = Array.from(await variables[0]!.data());
    const b0 = Array.from(await variables[1]!.data());
    const m0 = Array.from(await variables[2]!.data());
    const norm0 = [0, 1, 2].map((o) =>
      Math.sqrt([0, 1, 2, 3].reduce((sum, i) => sum + (kernel[i * 3 + o]! + scaling * (a0[i * 2]! * b0[o]! + a0[i * 2 + 1]! * b0[3 + o]!)) ** 2, 0)),
    );
    expect(Math.abs((await value.data())[0]! - lossOf(a0, b0, m0, norm0))).toBeLessThan(1e-4);

    const eps = 1e-4;
    const numeric = (which: 0 | 1 | 2, frozen: boolean): number[] => {
      const point = [a0, b0, m0];
      return point[which]!.map((_, index) => {
        const plus = point.map((array) => [...array]);
        const minus = point.map((array) => [...array]);
        plus[which]![index]! += eps;
        minus[which]![index]! -= eps;
        return (lossOf(plus[0]!, plus[1]!, plus[2]!, frozen ? norm0 : undefined) - lossOf(minus[0]!, minus[1]!, minus[2]!, frozen ? norm0 : undefined)) / (2 * eps);
      });
    };
    let detachedGap = 0;
    for (const [which, variable] of variables.entries()) {
      const analytic = Array.from(await grads[variable.name]!.data());
      const detached = numeric(which as 0 | 1 | 2, true);
      const full = numeric(which as 0 | 1 | 2, false);
      analytic.forEach((gradient, index) => expect(Math.abs(gradient - detached[index]!), `${variable.name}[${index}]`).toBeLessThan(2e-3));
      detachedGap = Math.max(detachedGap, ...full.map((gradient, index) => Math.abs(gradient - detached[index]!)));
    }
    // Detaching matters here: the non-detached gradient is measurably different.
    expect(detachedGap).toBeGreaterThan(1e-2);
    tf.dispose([value, c, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, base, atInit]);
    disposeWeights(peftModel.unload());
  });

  it('raises on an Embedding target and leaves the model unchanged', () => {
    const model = embeddingNet();
    const before = tf.memory().numTensors;
    expect(() => getPeftModel(model, createLoraConfig({ targetModules: ['emb', 'lin'], useDora: true }))).toThrow(/does not support DoRA/);
    expect(tf.memory().numTensors).toBe(before);
    expect(model.layers.map((layer) => layer.getClassName())).toEqual(['Embedding', 'Flatten', 'Dense']);
    disposeWeights(model);
  });
});

describe('mixed-adapter batches', () => {
  it('gives each row its adapter and refuses what PEFT refuses', async () => {
    const model = mlp();
    const x = mlpInputs();
    const base = model.predict(x) as tf.Tensor;
    const peftModel = getPeftModel(model, createLoraConfig({ targetModules: ['lin0', 'lin1'] }), { adapterName: 'first' });
    peftModel.addAdapter('second', createLoraConfig({ targetModules: ['lin1', 'lin2'], r: 3 }));
    peftModel.addAdapter('dora', createLoraConfig({ targetModules: ['lin2'], useDora: true }));
    await perturbAdapter(peftModel, 'first', 0.3, 1);
    await perturbAdapter(peftModel, 'second', 0.3, 2);
    const outputs: Record<string, tf.Tensor> = { __base__: base };
    for (const name of ['first', 'second']) {
      peftModel.setAdapter(name);
      outputs[name] = peftModel.model.predict(x) as tf.Tensor;
    }
    const before = tf.memory().numTensors;
    const names = ['second', '__base__', 'first', 'second'];
    const mixed = peftModel.predict(x, { adapterNames: names }) as tf.Tensor;
    for (const [row, name] of names.entries()) {
      const actual = tf.slice(mixed, [row, 0], [1, -1]);
      const expected = tf.slice(outputs[name]!, [row, 0], [1, -1]);
      expect(await maxAbsDifference(actual, expected), `row ${row} (${name})`).toBeLessThan(1e-6);
      tf.dispose([actual, expected]);
    }
    mixed.dispose();
    // Disabled adapters: the base output.
    const disabled = peftModel.disableAdapter(() => peftModel.predict(x, { adapterNames: names }) as tf.Tensor);
    expect(await maxAbsDifference(disabled, base)).toBeLessThan(1e-6);
    disabled.dispose();
    expect(tf.memory().numTensors).toBe(before);

    expect(() => peftModel.predict(x, { adapterNames: ['first', 'dora', 'first', 'first'] })).toThrow(/DoRA/);
    expect(() => peftModel.predict(x, { adapterNames: ['first'] })).toThrow(/4 rows/);
    expect(() => withForwardContext({ adapterNames: names }, () => peftModel.model.apply(x, { training: true }))).toSatisfy((run: () => unknown) => {
      try {
        run();
        return false;
      } catch (error) {
        return AdapterStateError.isInstance(error) && /training mode/.test((error as Error).message);
      }
    });
    peftModel.setAdapter('first');
    await peftModel.mergeAdapter();
    expect(() => peftModel.predict(x, { adapterNames: names })).toThrow(/merged/);
    peftModel.unmergeAdapter();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, ...Object.values(outputs)]);
    disposeWeights(peftModel.unload());
  });

  it('works for Conv2D and Embedding layers', async () => {
    for (const [makeModel, makeInputs, targets] of [
      [convNet, convInputs, ['conv', 'conv1']],
      [embeddingNet, embeddingInputs, ['emb']],
    ] as const) {
      const model = makeModel();
      const x = makeInputs();
      const peftModel = getPeftModel(model, createLoraConfig({ targetModules: [...targets], r: 2 }), { adapterName: 'one' });
      await perturbAdapter(peftModel, 'one', 0.3, 4);
      const adapted = peftModel.model.predict(x) as tf.Tensor;
      const base = peftModel.disableAdapter(() => peftModel.model.predict(x) as tf.Tensor);
      const batch = x.shape[0]!;
      const names = Array.from({ length: batch }, (_, row) => (row % 2 === 0 ? 'one' : '__base__'));
      const mixed = peftModel.predict(x, { adapterNames: names }) as tf.Tensor;
      for (const [row, name] of names.entries()) {
        const actual = tf.slice(mixed, [row, 0], [1, -1]);
        const expected = tf.slice(name === 'one' ? adapted : base, [row, 0], [1, -1]);
        expect(await maxAbsDifference(actual, expected)).toBeLessThan(1e-6);
        tf.dispose([actual, expected]);
      }
      tf.dispose([x, adapted, base, mixed]);
      disposeWeights(peftModel.unload());
    }
  });
});

describe('layer classes', () => {
  it('adapts a linear class with a torch-layout [in, out] weight (GPT-2 Conv1D), forcing fan_in_fan_out like PEFT', async () => {
    const DenseClass = tfl.layers.dense({ units: 1 }).constructor as unknown as new (args: Record<string, unknown>) => tfl.layers.Layer;
    class TestConv1D extends DenseClass {
      static className = 'TestLoraConv1D';
    }
    tf.serialization.registerClass(TestConv1D as never);
    registerLayerFormat('TestLoraConv1D', { weights: { kernel: { torchName: 'weight' }, bias: { torchName: 'bias' } } });
    registerLinearLayerClass('TestLoraConv1D');
    const input = tfl.input({ shape: [6] });
    const output = new TestConv1D({ units: 5, name: 'c_attn' }).apply(input) as tfl.SymbolicTensor;
    const model = tfl.model({ inputs: input, outputs: output });
    const x = tf.randomNormal([2, 6], 0, 1, 'float32', 1);
    const { result: peftModel, warnings } = withWarnings(() => getPeftModel(model, createLoraConfig({ targetModules: ['c_attn'], r: 2 })));
    expect(warnings.join('\n')).toMatch(/Setting fan_in_fan_out to True/);
    expect(peftModel.peftConfig.default).toMatchObject({ fanInFanOut: true });
    expect(lora.serializeConfig(peftModel.peftConfig.default as never).fan_in_fan_out).toBe(true);
    expect(loraLayer(peftModel, 'c_attn')).toBeInstanceOf(LoraDense);
    expect(peftModel.getStateDictShapes()).toEqual({ 'base_model.model.c_attn.lora_A.weight': [2, 6], 'base_model.model.c_attn.lora_B.weight': [5, 2] });
    await perturbAdapter(peftModel, 'default');
    const adapted = peftModel.model.predict(x) as tf.Tensor;
    const merged = await peftModel.mergeAndUnload();
    const mergedOutput = merged.predict(x) as tf.Tensor;
    expect(await maxAbsDifference(mergedOutput, adapted)).toBeLessThan(1e-5);
    tf.dispose([x, adapted, mergedOutput]);
    disposeWeights(merged);

    const dense = mlp();
    const { result: denseModel, warnings: denseWarnings } = withWarnings(() => getPeftModel(dense, createLoraConfig({ targetModules: ['lin0'], fanInFanOut: true })));
    expect(denseWarnings.join('\n')).toMatch(/Setting fan_in_fan_out to False/);
    expect(denseModel.peftConfig.default).toMatchObject({ fanInFanOut: false });
    disposeWeights(denseModel.unload());
  });

  it('refuses a dilated Conv2D with a message that says why', () => {
    const model = tfl.sequential({ layers: [tfl.layers.conv2d({ filters: 2, kernelSize: 3, dilationRate: 2, inputShape: [8, 8, 1], name: 'conv' })] });
    expect(() => getPeftModel(model, createLoraConfig({ targetModules: ['conv'] }))).toSatisfy((run: () => unknown) => {
      try {
        run();
        return false;
      } catch (error) {
        return UnsupportedLayerError.isInstance(error) && /dilationRate/.test((error as Error).message);
      }
    });
    expect(() => getPeftModel(mlp(), createLoraConfig({ targetModules: ['lin0'], initLoraWeights: 'pissa' })).model.predict(mlpInputs())).toThrow(/initializePissa/);
    disposeWeights(model);
  });

  it('refuses a second adapter with bias, as PEFT does', () => {
    const peftModel = getPeftModel(mlp(), createLoraConfig({ targetModules: ['lin0'] }));
    expect(() => peftModel.addAdapter('biased', createLoraConfig({ targetModules: ['lin1'], bias: 'all' }))).toSatisfy((run: () => unknown) => {
      try {
        run();
        return false;
      } catch (error) {
        return InvalidConfigError.isInstance(error) && /only 1 adapter with bias/.test((error as Error).message);
      }
    });
    expect(peftModel.adapterNames).toEqual(['default']);
    disposeWeights(peftModel.unload());
  });

  it('serializes: the rewritten model rebuilds from its JSON and gives the same output', async () => {
    const model = convNet();
    const x = convInputs();
    const peftModel = getPeftModel(model, createLoraConfig({ targetModules: ['conv', 'head'], useDora: true, r: 2 }));
    peftModel.addAdapter('other', createLoraConfig({ targetModules: ['conv1'] }));
    peftModel.setAdapter(['default', 'other']);
    await perturbAdapter(peftModel, 'default');
    await perturbAdapter(peftModel, 'other');
    const expected = peftModel.model.predict(x) as tf.Tensor;
    const restored = await tfl.models.modelFromJSON({ modelTopology: peftModel.model.toJSON(null, false) as tf.io.ModelJSON['modelTopology'] });
    expect(restored.layers.slice(1).map((layer) => layer.getClassName())).toEqual(['LoraConv2D', 'LoraConv2D', 'Flatten', 'LoraDense']);
    expect((restored.getLayer('conv1') as LoraLayer).adapterNames).toEqual(['other']);
    restored.loadWeights(Object.fromEntries(peftModel.model.weights.map((weight) => [weight.originalName, weight.read()])));
    const actual = restored.predict(x) as tf.Tensor;
    expect(await maxAbsDifference(actual, expected)).toBeLessThan(1e-6);
    tf.dispose([x, expected, actual]);
    disposeWeights(restored);
    disposeWeights(peftModel.unload());
  });

  it('trains with model.fit() on a compiled adapted model', async () => {
    const model = mlp();
    const peftModel = getPeftModel(model, createLoraConfig({ targetModules: ['lin0', 'lin1', 'lin2'], loraDropout: 0.1, useDora: true }));
    const x = mlpInputs();
    const y = tf.onesLike(model.predict(x) as tf.Tensor);
    const frozen = await values(loraLayer(peftModel, 'lin0').kernel.read());
    peftModel.model.compile({ optimizer: tf.train.adam(0.01), loss: 'meanSquaredError' });
    const history = await peftModel.model.fit(x, y, { epochs: 5, batchSize: 4, verbose: 0 });
    const losses = history.history.loss as number[];
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]!);
    expect(await values(loraLayer(peftModel, 'lin0').kernel.read())).toEqual(frozen);
    tf.dispose([x, y]);
    peftModel.model.optimizer.dispose();
    disposeWeights(peftModel.unload());
  });
});
