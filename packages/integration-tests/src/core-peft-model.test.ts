import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AdapterStateError,
  getPeftModel,
  InvalidConfigError,
  namedLayers,
  namedParameters,
  NoMatchingTargetError,
  NoSuchAdapterError,
  PeftModel,
  registerArchitecture,
  registerTuner,
  setModelInfo,
  setWarningHandler,
  TunerLayer,
  UnsupportedLayerError,
  unregisterArchitecture,
  type PeftContainer,
} from '@peftjs/core';
import { assertClose, perturbAdapter } from '@peftjs/core/testing';
import { outputScale } from 'peftjs-tuner-output-scale';

const init = (seed: number) => tfl.initializers.randomNormal({ mean: 0, stddev: 0.5, seed });

function branchyModel(): tfl.LayersModel {
  const x = tfl.input({ shape: [4], name: 'x' });
  const y = tfl.input({ shape: [3], name: 'y' });
  const left = tfl.layers.dense({ units: 5, name: 'encoder.left', kernelInitializer: init(1) }).apply(x) as tfl.SymbolicTensor;
  const right = tfl.layers.dense({ units: 5, name: 'encoder.right', kernelInitializer: init(2) }).apply(y) as tfl.SymbolicTensor;
  const joined = tfl.layers.concatenate({ name: 'join' }).apply([left, right]) as tfl.SymbolicTensor;
  const inner = tfl.sequential({
    name: 'head',
    layers: [
      tfl.layers.dense({ units: 6, inputShape: [10], activation: 'relu', name: 'proj', kernelInitializer: init(3) }),
      tfl.layers.dense({ units: 2, name: 'out', kernelInitializer: init(4) }),
    ],
  });
  return tfl.model({ inputs: [x, y], outputs: inner.apply(joined) as tfl.SymbolicTensor, name: 'branchy' });
}

const inputs = () => [tf.randomNormal([3, 4], 0, 1, 'float32', 1), tf.randomNormal([3, 3], 0, 1, 'float32', 2)];

function quietly<T>(run: () => T): { result: T; warnings: string[] } {
  const warnings: string[] = [];
  const previous = setWarningHandler((message) => warnings.push(message));
  try {
    return { result: run(), warnings };
  } finally {
    setWarningHandler(previous);
  }
}

beforeAll(async () => {
  await tf.setBackend('cpu');
  registerTuner(outputScale);
});

describe('PeftModel on functional and nested models', () => {
  it('adapts layers in branches and inside a nested Sequential, by module path', async () => {
    const model = branchyModel();
    const xs = inputs();
    const base = model.predict(xs) as tf.Tensor;
    const peftModel = getPeftModel(model, { peft_type: 'OUTPUT_SCALE', target_modules: ['left', 'head.proj'] });
    expect(peftModel.targetedModuleNames).toEqual(['encoder.left', 'head.proj']);
    await assertClose(peftModel.model.predict(xs) as tf.Tensor, base, { atol: 1e-6 });
    await perturbAdapter(peftModel, 'default');
    const adapted = peftModel.model.predict(xs) as tf.Tensor;
    expect(await tf.max(tf.abs(tf.sub(adapted, base))).data()).not.toEqual(new Float32Array([0]));
    // The model passed in keeps computing the base output: it shares layers, not wrappers.
    await assertClose(model.predict(xs) as tf.Tensor, base, { atol: 1e-6 });
    tf.dispose([base, adapted, ...xs]);
  });

  it('reports trainable parameters in PEFT’s exact format', () => {
    const peftModel = getPeftModel(branchyModel(), { peft_type: 'OUTPUT_SCALE', target_modules: ['left', 'head.proj'] });
    // base: 4*5+5 + 3*5+5 + 10*6+6 + 6*2+2 = 125; adapters: 5 + 6 = 11
    expect(peftModel.getNbTrainableParameters()).toEqual([11, 136]);
    expect(peftModel.trainableParametersReport()).toBe('trainable params: 11 || all params: 136 || trainable%: 8.0882');
  });

  it('formats large counts with thousands separators', () => {
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 1536, inputShape: [1536], name: 'big' })] });
    const peftModel = getPeftModel(model, { peft_type: 'OUTPUT_SCALE', target_modules: ['big'] });
    expect(peftModel.trainableParametersReport()).toBe('trainable params: 1,536 || all params: 2,362,368 || trainable%: 0.0650');
  });

  it('trains only the adapter with model.fit', async () => {
    const model = branchyModel();
    const peftModel = getPeftModel(model, { peft_type: 'OUTPUT_SCALE', target_modules: 'encoder\\..*', modules_to_save: ['out'] });
    const frozen = peftModel.namedParameters().get('head.proj.weight')!;
    const before = await frozen.variable.read().data();
    peftModel.model.compile({ optimizer: tf.train.adam(0.05), loss: 'meanSquaredError' });
    const xs = inputs();
    const target = tf.ones([3, 2]);
    const history = await peftModel.model.fit(xs, target, { epochs: 5, verbose: 0 });
    const losses = history.history.loss as number[];
    expect(losses[losses.length - 1]!).toBeLessThan(losses[0]!);
    expect(await frozen.variable.read().data()).toEqual(before);
    expect([...peftModel.namedParameters().keys()].filter((name) => peftModel.namedParameters().get(name)!.variable.trainable)).toEqual([
      'encoder.left.scale_vector.default',
      'encoder.right.scale_vector.default',
      'head.out.modules_to_save.default.weight',
      'head.out.modules_to_save.default.bias',
    ]);
    tf.dispose([...xs, target]);
  });

  it('saves modules_to_save under the original names, as PEFT does', () => {
    const peftModel = getPeftModel(branchyModel(), { peft_type: 'OUTPUT_SCALE', target_modules: ['left'], modules_to_save: ['out'] });
    expect(peftModel.getStateDictShapes()).toEqual({
      'base_model.model.encoder.left.scale_vector': [5],
      'base_model.model.head.out.weight': [2, 6],
      'base_model.model.head.out.bias': [2],
    });
  });

  it('survives toJSON and modelFromJSON with its adapter layers', async () => {
    const peftModel = getPeftModel(branchyModel(), { peft_type: 'OUTPUT_SCALE', target_modules: ['left'] });
    await perturbAdapter(peftModel, 'default');
    const json = peftModel.model.toJSON(null, false) as unknown as tf.io.ModelJSON['modelTopology'];
    const copy = await tfl.models.modelFromJSON({ modelTopology: json as tf.io.ModelJSON['modelTopology'] });
    // tfjs orders getWeights() by trainability, so copy by PEFT name instead.
    const source = peftModel.namedParameters();
    for (const [name, param] of namedParameters(copy)) param.variable.write(source.get(name)!.variable.read());
    const xs = inputs();
    await assertClose(copy.predict(xs) as tf.Tensor, peftModel.model.predict(xs) as tf.Tensor, { atol: 1e-6 });
    expect(namedLayers(copy).some((entry) => TunerLayer.isTunerLayer(entry.layer))).toBe(true);
    tf.dispose(xs);
  });
});

describe('targeting errors and defaults', () => {
  it('lists the closest layer names when nothing matches, and leaves the model as it was', () => {
    const model = branchyModel();
    const nodes = model.layers.map((layer) => layer.inboundNodes.length);
    const tensors = tf.memory().numTensors;
    expect(() => getPeftModel(model, { peft_type: 'OUTPUT_SCALE', target_modules: ['lef'] })).toThrow(NoMatchingTargetError);
    expect(() => getPeftModel(model, { peft_type: 'OUTPUT_SCALE', target_modules: ['lef'] })).toThrow(/lef: left/);
    expect(model.layers.map((layer) => layer.inboundNodes.length)).toEqual(nodes);
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it('warns about a list entry that matched nothing (PEFT is silent)', () => {
    const { warnings } = quietly(() => getPeftModel(branchyModel(), { peft_type: 'OUTPUT_SCALE', target_modules: ['left', 'rihgt'] }));
    expect(warnings.join('\n')).toMatch(/target "rihgt" matched no layer; layers named like it: right/);
  });

  it('refuses a layer class the tuner cannot adapt, naming the supported ones, and rolls back', () => {
    const model = branchyModel();
    const tensors = tf.memory().numTensors;
    expect(() => getPeftModel(model, { peft_type: 'OUTPUT_SCALE', target_modules: ['left', 'join'] })).toThrow(UnsupportedLayerError);
    expect(() => getPeftModel(model, { peft_type: 'OUTPUT_SCALE', target_modules: ['left', 'join'] })).toThrow(/Concatenate.*supported layer classes: Dense/);
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it("expands 'all-linear' to every Dense leaf name except the output head", () => {
    const peftModel = getPeftModel(branchyModel(), { peft_type: 'OUTPUT_SCALE', target_modules: 'all-linear' });
    expect(peftModel.targetedModuleNames).toEqual(['encoder.left', 'encoder.right', 'head.proj']);
  });

  it("keeps a described model's classifier in 'all-linear' (PEFT excludes only the output embedding)", () => {
    registerArchitecture({ modelType: 'toy-classifier', roles: { query: 'left', value: 'right' } });
    try {
      const model = branchyModel();
      setModelInfo(model, { modelType: 'toy-classifier' });
      const peftModel = getPeftModel(model, { peft_type: 'OUTPUT_SCALE', target_modules: 'all-linear' });
      expect(peftModel.targetedModuleNames).toEqual(['encoder.left', 'encoder.right', 'head.proj', 'head.out']);
    } finally {
      unregisterArchitecture('toy-classifier');
    }
  });

  it('uses default targets of a registered custom architecture', () => {
    registerArchitecture({
      modelType: 'toy-branchy',
      roles: { query: 'left', value: 'right', outputHead: 'out' },
      defaultTargets: { OUTPUT_SCALE: { targetModules: ['left', 'right'] } },
    });
    try {
      const model = branchyModel();
      setModelInfo(model, { modelType: 'toy-branchy', nameOrPath: 'org/toy' });
      const peftModel = getPeftModel(model, { peft_type: 'OUTPUT_SCALE' });
      expect(peftModel.targetedModuleNames).toEqual(['encoder.left', 'encoder.right']);
      expect(peftModel.peftConfig.default!.baseModelNameOrPath).toBe('org/toy');
      expect(() => getPeftModel(branchyModel(), { peft_type: 'OUTPUT_SCALE' })).toThrow(InvalidConfigError);
      expect(() => getPeftModel(branchyModel(), { peft_type: 'OUTPUT_SCALE' })).toThrow(/model type is unknown/);
    } finally {
      unregisterArchitecture('toy-branchy');
    }
  });

  it('targets layers inside a PeftContainer by child path', async () => {
    class Block extends tfl.layers.Layer implements PeftContainer {
      static className = 'TestBlock';
      fc: tfl.layers.Layer;
      constructor() {
        super({ name: 'block' });
        this.fc = tfl.layers.dense({ units: 3, name: 'fc', kernelInitializer: init(9) });
      }
      peftChildLayers() {
        return [['fc', this.fc]] as const;
      }
      peftReplaceChildLayer(_name: string, layer: tfl.layers.Layer) {
        this.fc = layer;
      }
      override build(shape: tfl.Shape | tfl.Shape[]) {
        this.fc.build(shape as tfl.Shape);
        this.built = true;
      }
      override get trainableWeights() {
        return this.fc.trainableWeights;
      }
      override get nonTrainableWeights() {
        return this.fc.nonTrainableWeights;
      }
      override computeOutputShape(shape: tfl.Shape | tfl.Shape[]) {
        return [(shape as tfl.Shape)[0]!, 3];
      }
      override call(input: tf.Tensor | tf.Tensor[]) {
        return tf.tanh(this.fc.apply(Array.isArray(input) ? input[0]! : input) as tf.Tensor);
      }
    }
    const x = tfl.input({ shape: [4] });
    const model = tfl.model({ inputs: x, outputs: new Block().apply(x) as tfl.SymbolicTensor });
    const peftModel = getPeftModel(model, { peft_type: 'OUTPUT_SCALE', target_modules: ['block.fc'] });
    expect(peftModel.targetedModuleNames).toEqual(['block.fc']);
    await perturbAdapter(peftModel, 'default');
    const xs = tf.randomNormal([2, 4], 0, 1, 'float32', 5);
    const adapted = peftModel.model.predict(xs) as tf.Tensor;
    const base = peftModel.disableAdapter(() => peftModel.model.predict(xs) as tf.Tensor);
    expect((await tf.max(tf.abs(tf.sub(adapted, base))).data())[0]).toBeGreaterThan(1e-4);
    const unloaded = peftModel.unload();
    await assertClose(unloaded.predict(xs) as tf.Tensor, base, { atol: 1e-6 });
  });
});

describe('adapter management', () => {
  it('adds, activates several, reports status and deletes deterministically', async () => {
    const peftModel = new PeftModel(branchyModel(), { peft_type: 'OUTPUT_SCALE', target_modules: ['left'] });
    peftModel.addAdapter('b', { peft_type: 'OUTPUT_SCALE', target_modules: ['left', 'right'] });
    peftModel.addAdapter('a', { peft_type: 'OUTPUT_SCALE', target_modules: ['right'] });
    expect(peftModel.activeAdapters).toEqual(['default']);
    expect(() => peftModel.addAdapter('a', { peft_type: 'OUTPUT_SCALE', target_modules: ['right'] })).toThrow(AdapterStateError);
    expect(() => peftModel.setAdapter('missing')).toThrow(NoSuchAdapterError);
    peftModel.setAdapter(['default', 'b']);
    const status = peftModel.getModelStatus();
    expect(status.activeAdapters).toBe('irregular');
    expect(status.availableAdapters).toEqual(['a', 'b', 'default']);
    expect(status.numAdapterLayers).toBe(2);
    const { warnings } = quietly(() => {
      peftModel.deleteAdapter('default');
      peftModel.deleteAdapter('b');
    });
    expect(peftModel.activeAdapters).toEqual(['a']);
    expect(warnings.join()).toMatch(/"a" is now active/);
  });

  it('refuses adapter names that would break PEFT key names', () => {
    const peftModel = new PeftModel(branchyModel(), { peft_type: 'OUTPUT_SCALE', target_modules: ['left'] });
    expect(() => peftModel.addAdapter('a.b', { peft_type: 'OUTPUT_SCALE', target_modules: ['left'] })).toThrow(/adapter name "a.b" is invalid/);
    expect(() => peftModel.addAdapter('__base__', { peft_type: 'OUTPUT_SCALE', target_modules: ['left'] })).toThrow(InvalidConfigError);
  });

  it('refuses a config without a registered peft_type', () => {
    expect(() => new PeftModel(branchyModel(), { peft_type: 'NOPE', target_modules: ['left'] })).toThrow(/no tuner is registered for peft_type "NOPE"/);
  });

  it('restores state after an async disableAdapter callback', async () => {
    const peftModel = new PeftModel(branchyModel(), { peft_type: 'OUTPUT_SCALE', target_modules: ['left'] });
    await peftModel.disableAdapter(async () => {
      expect(peftModel.getModelStatus().enabled).toBe(false);
    });
    expect(peftModel.getModelStatus().enabled).toBe(true);
    await expect(peftModel.disableAdapter(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(peftModel.getModelStatus().enabled).toBe(true);
  });
});

afterAll(() => {
  tf.disposeVariables();
});
