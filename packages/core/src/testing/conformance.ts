import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { describe, expect, it } from 'vitest';
import { AdapterFormatError, MergeError, PeftError } from '../errors';
import { namedLayers } from '../model/named-layers';
import { PeftModel } from '../model/peft-model';
import { getTuner, registerTuner } from '../registry/tuner-registry';
import { TunerLayer } from '../spec/tuner-layer';
import type { TunerV1 } from '../spec/tuner-v1';
import { setWarningHandler } from '../util/warn';
import { assertClose, maxAbsDifference } from './tensor-assertions';

/** One model + config that the conformance kit runs every invariant on. */
export interface ConformanceCase {
  name: string;
  /** A fresh base model with deterministic weights (called once per test). */
  makeModel(): LayersModel;
  /** A batch of inputs for it. */
  makeInputs(): tf.Tensor | tf.Tensor[];
  /** The adapter config (snake_case JSON or camelCase options; peft_type filled in from the tuner). */
  config: Record<string, unknown>;
  /** A second adapter's config for the multi-adapter checks (default: `config`). */
  otherConfig?: Record<string, unknown>;
  /** Whether the method's fresh adapter leaves the output unchanged (default true). */
  identityAtInit?: boolean;
  /** Whether merging is supported (default true). */
  mergeable?: boolean;
  /** Output tolerance for merge and round-trip equalities (default 1e-4, as PEFT's tests). */
  tolerance?: number;
  /**
   * The exact saved keys, for a method with a save format of its own (prompt learning:
   * `['prompt_embeddings']`). Default: every key starts with `base_model.model.`.
   */
  stateDictKeys?: readonly string[];
}

function withPeftType(tuner: TunerV1<any>, config: Record<string, unknown>): Record<string, unknown> {
  return { peft_type: tuner.peftType, ...config };
}

function output(model: LayersModel, inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
  const result = model.predict(inputs);
  return Array.isArray(result) ? result[0]! : result;
}

/** Asserts the model's output on `inputs` is close to `expected`, freeing the output. */
async function assertOutputClose(
  model: LayersModel,
  inputs: tf.Tensor | tf.Tensor[],
  expected: tf.Tensor,
  options: { atol: number; rtol: number; message: string },
): Promise<void> {
  const actual = output(model, inputs);
  try {
    await assertClose(actual, expected, options);
  } finally {
    actual.dispose();
  }
}

/** Adds seeded noise to every parameter of an adapter so that it is not a no-op. */
export async function perturbAdapter(peftModel: PeftModel, adapterName: string, scale = 0.3, seed = 7): Promise<void> {
  let offset = 0;
  for (const [, layer] of tunerLayers(peftModel)) {
    if (!layer.hasAdapter(adapterName)) continue;
    for (const param of layer.adapterParameters(adapterName).values()) {
      const value = tf.tidy(() => tf.add(param.variable.read(), tf.randomNormal(param.variable.shape as number[], 0, scale, 'float32', seed + offset++)));
      param.variable.write(value);
      value.dispose();
    }
  }
}

function tunerLayers(peftModel: PeftModel): Array<[string, TunerLayer]> {
  return namedLayers(peftModel.model)
    .filter((entry) => TunerLayer.isTunerLayer(entry.layer))
    .map((entry) => [entry.path, entry.layer as TunerLayer]);
}

function arraysDiffer(a: Float32Array, b: Float32Array): boolean {
  return a.some((value, index) => Math.abs(value - b[index]!) > 1e-6);
}

async function snapshot(peftModel: PeftModel): Promise<Map<string, Float32Array>> {
  const result = new Map<string, Float32Array>();
  for (const [name, param] of peftModel.namedParameters()) result.set(name, (await param.variable.read().data()) as Float32Array);
  return result;
}

function trainSteps(peftModel: PeftModel, inputs: tf.Tensor | tf.Tensor[], steps: number): void {
  // PEFT uses SGD at 0.5; 0.1 keeps every case (rank-stabilised scalings, unseeded inits) from diverging to NaN.
  const optimizer = tf.train.sgd(0.1);
  const variables = peftModel.model.trainableWeights.map((weight) => weight.read() as tf.Variable);
  for (let step = 0; step < steps; step++) {
    tf.tidy(() => {
      optimizer.minimize(
        () => {
          const result = peftModel.model.apply(inputs, { training: true });
          const out = Array.isArray(result) ? (result[0] as tf.Tensor) : (result as tf.Tensor);
          return tf.mean(tf.square(tf.sub(out, tf.onesLike(out)))) as tf.Scalar;
        },
        false,
        variables,
      );
    });
  }
  optimizer.dispose();
}

/** Collects warnings during `run` instead of printing them. */
async function captureWarnings<T>(run: () => Promise<T> | T): Promise<{ result: T; warnings: string[] }> {
  const warnings: string[] = [];
  const previous = setWarningHandler((message) => warnings.push(message));
  try {
    return { result: await run(), warnings };
  } finally {
    setWarningHandler(previous);
  }
}

/**
 * PEFT's test invariants (identity at init, only adapter weights train, disable == base,
 * merged == unmerged == merge-and-unload, unmerge restores, idempotent merge, safe merge on
 * NaN, save/load round trip, add/set/delete semantics, registry behaviour, no tensor leaks)
 * as a vitest suite that every method package runs on its own cases.
 */
export function describeTunerConformance(tuner: TunerV1<any>, cases: readonly ConformanceCase[]): void {
  describe(`${tuner.peftType} conformance`, () => {
    it('registers idempotently and refuses a different tuner under its name', () => {
      registerTuner(tuner);
      registerTuner(tuner);
      expect(getTuner(tuner.peftType)).toBe(tuner);
      expect(() => registerTuner({ ...tuner })).toThrow(/already registered/);
      expect(() => registerTuner({ ...tuner, specificationVersion: 'v0' } as unknown as TunerV1)).toThrow(/specificationVersion/);
    });

    for (const testCase of cases) {
      const tolerance = testCase.tolerance ?? 1e-4;
      const config = withPeftType(tuner, testCase.config);
      const otherConfig = withPeftType(tuner, testCase.otherConfig ?? testCase.config);

      describe(testCase.name, () => {
        it('config round-trips through PEFT JSON', () => {
          const parsed = tuner.parseConfig(config);
          const json = tuner.serializeConfig(parsed);
          expect(json.peft_type).toBe(tuner.peftType);
          expect(tuner.serializeConfig(tuner.parseConfig(json))).toEqual(json);
        });

        it('matches the base output at init, and disable gives the base output', async () => {
          registerTuner(tuner);
          const model = testCase.makeModel();
          const inputs = testCase.makeInputs();
          const base = output(model, inputs);
          const before = tf.memory().numTensors;
          const peftModel = new PeftModel(model, config);
          if (testCase.identityAtInit ?? true) await assertOutputClose(peftModel.model, inputs, base, { atol: 1e-6, rtol: 1e-6, message: 'output at init differs from base' });
          await perturbAdapter(peftModel, 'default');
          const adapted = output(peftModel.model, inputs);
          expect(await maxAbsDifference(adapted, base)).toBeGreaterThan(1e-6);
          const disabled = peftModel.disableAdapter(() => output(peftModel.model, inputs));
          await assertClose(disabled, base, { atol: 1e-6, rtol: 1e-6, message: 'disabled output differs from base' });
          await assertOutputClose(peftModel.model, inputs, adapted, { atol: 1e-6, rtol: 1e-6, message: 'output after disableAdapter() not restored' });
          expect(() =>
            peftModel.disableAdapter(() => {
              throw new Error('inside');
            }),
          ).toThrow('inside');
          await assertOutputClose(peftModel.model, inputs, adapted, { atol: 1e-6, rtol: 1e-6, message: 'state not restored after a throwing disableAdapter()' });
          tf.dispose([adapted, disabled]);
          peftModel.deleteAdapter('default');
          expect(tf.memory().numTensors).toBe(before);
          tf.dispose([base]);
          tf.dispose(inputs);
        });

        it('trains only adapter (and modules_to_save) weights', async () => {
          const model = testCase.makeModel();
          const inputs = testCase.makeInputs();
          const peftModel = new PeftModel(model, config);
          await perturbAdapter(peftModel, 'default');
          const trainable = new Set(peftModel.model.trainableWeights.map((weight) => weight.id));
          expect(trainable.size).toBeGreaterThan(0);
          // Parameters the tuner trains besides its own (a bias option) may move too.
          const parsed = peftModel.peftConfig.default!;
          const extraTrainable = new Set(
            tuner.trainableParameters?.(parsed, { adapterName: 'default', parameters: peftModel.namedParameters(), layers: peftModel.adapterLayerEntries() }) ?? [],
          );
          const before = await snapshot(peftModel);
          const tensorsBefore = tf.memory().numTensors;
          trainSteps(peftModel, inputs, 3);
          expect(tf.memory().numTensors).toBe(tensorsBefore);
          const adapterNames = [...peftModel.namedParameters().keys()].filter((name) => name.includes(tuner.weightPrefix));
          let after = await snapshot(peftModel);
          // Under module and rank dropout a step can skip every adapter (a case whose two adapters
          // are each dropped about a third of the time: three steps left about one run in a
          // thousand with nothing moved), so a run where nothing moved gets up to three more steps.
          for (let extra = 0; extra < 3 && !adapterNames.some((name) => arraysDiffer(before.get(name)!, after.get(name)!)); extra++) {
            trainSteps(peftModel, inputs, 1);
            after = await snapshot(peftModel);
          }
          for (const [name, param] of peftModel.namedParameters()) {
            const moved = arraysDiffer(before.get(name)!, after.get(name)!);
            const isAdapter = name.includes(tuner.weightPrefix) || name.includes('modules_to_save.');
            if (isAdapter) expect(trainable.has(param.variable.id), `${name} should be trainable`).toBe(true);
            else if (!extraTrainable.has(name)) expect(moved, `${name} is not an adapter weight but moved`).toBe(false);
          }
          const anyMoved = adapterNames.some((name) => arraysDiffer(before.get(name)!, after.get(name)!));
          expect(anyMoved, 'training moved no adapter weight').toBe(true);
          tf.dispose(inputs);
        });

        if (testCase.mergeable ?? true) {
          it('merged == unmerged == merge-and-unload; unmerge restores; merge is idempotent', async () => {
            const model = testCase.makeModel();
            const inputs = testCase.makeInputs();
            const base = output(model, inputs);
            const peftModel = new PeftModel(model, config);
            await perturbAdapter(peftModel, 'default');
            const unmerged = output(peftModel.model, inputs);
            const tensorsBefore = tf.memory().numTensors;
            await peftModel.mergeAdapter();
            const merged = output(peftModel.model, inputs);
            await assertClose(merged, unmerged, { atol: tolerance, rtol: tolerance, message: 'merged output differs from unmerged' });
            expect(await maxAbsDifference(merged, base)).toBeGreaterThan(1e-6);
            const { warnings } = await captureWarnings(() => peftModel.mergeAdapter());
            expect(warnings.join('\n')).toMatch(/already merged/);
            const disabledWhileMerged = peftModel.disableAdapter(() => output(peftModel.model, inputs));
            await assertClose(disabledWhileMerged, base, { atol: tolerance, rtol: tolerance, message: 'disable after merge is not the base output' });
            peftModel.unmergeAdapter();
            const restored = output(peftModel.model, inputs);
            await assertClose(restored, unmerged, { atol: tolerance, rtol: tolerance, message: 'unmerge did not restore the adapted output' });
            tf.dispose([merged, restored, disabledWhileMerged]);
            expect(tf.memory().numTensors).toBe(tensorsBefore);
            const plain = await peftModel.mergeAndUnload({ safeMerge: true });
            expect(plain.layers.some((layer) => TunerLayer.isTunerLayer(layer))).toBe(false);
            const unloaded = output(plain, inputs);
            await assertClose(unloaded, unmerged, { atol: tolerance, rtol: tolerance, message: 'mergeAndUnload output differs from unmerged' });
            tf.dispose([base, unmerged, unloaded]);
            tf.dispose(inputs);
          });

          it('safe merge refuses non-finite weights and changes nothing', async () => {
            const model = testCase.makeModel();
            const inputs = testCase.makeInputs();
            const peftModel = new PeftModel(model, config);
            await perturbAdapter(peftModel, 'default');
            const before = output(peftModel.model, inputs);
            const [, layer] = tunerLayers(peftModel)[0]!;
            const param = [...layer.adapterParameters('default').values()][0]!;
            const poisoned = tf.fill(param.variable.shape as number[], Number.NaN);
            const saved = param.variable.read().clone();
            param.variable.write(poisoned);
            poisoned.dispose();
            await expect(peftModel.mergeAdapter(undefined, { safeMerge: true })).rejects.toSatisfy((error: unknown) => MergeError.isInstance(error));
            expect(peftModel.getModelStatus().mergedAdapters).toEqual([]);
            param.variable.write(saved);
            saved.dispose();
            await assertOutputClose(peftModel.model, inputs, before, { atol: 1e-6, rtol: 1e-6, message: 'a refused safe merge changed the model' });
            tf.dispose([before]);
            tf.dispose(inputs);
          });
        }

        if (tuner.generation) {
          it('generation hooks: no plan while the adapters are disabled; a plan runs later steps through laterStep', async () => {
            const peftModel = new PeftModel(testCase.makeModel(), config);
            const plan = tuner.generation!.plan(peftModel.model);
            if (plan) {
              expect(['embeddings', 'cachePrefix']).toContain(plan.kind);
              expect(Number.isInteger(plan.numVirtualTokens) && plan.numVirtualTokens > 0).toBe(true);
              expect(plan.laterStep(() => 42)).toBe(42);
            }
            await peftModel.disableAdapter(() => {
              expect(tuner.generation!.plan(peftModel.model)).toBeUndefined();
            });
          });
        }

        it('round-trips through its PEFT state dict, and refuses a mis-shaped one', async () => {
          const inputs = testCase.makeInputs();
          const source = new PeftModel(testCase.makeModel(), config);
          await perturbAdapter(source, 'default');
          const expected = output(source.model, inputs);
          const stateDict = source.getStateDict('default');
          expect(Object.keys(stateDict).length).toBeGreaterThan(0);
          if (testCase.stateDictKeys) expect(Object.keys(stateDict).sort()).toEqual([...testCase.stateDictKeys].sort());
          else for (const key of Object.keys(stateDict)) expect(key.startsWith('base_model.model.')).toBe(true);
          const target = new PeftModel(testCase.makeModel(), config);
          const tensorsBefore = tf.memory().numTensors;
          // The first adapter tensor (the state dict may also hold the tuner's saved extras, which loading does not require).
          const firstKey = Object.keys(stateDict).find((key) => key.includes(tuner.weightPrefix)) ?? Object.keys(stateDict)[0];
          const wrong = { ...stateDict, [firstKey!]: tf.zeros([...stateDict[firstKey!]!.shape, 1]) };
          expect(() => target.loadStateDict(wrong)).toThrow(/shape/);
          wrong[firstKey!]!.dispose();
          const missing = { ...stateDict };
          delete missing[firstKey!];
          expect(() => target.loadStateDict(missing)).toSatisfy((run: () => void) => {
            try {
              run();
              return false;
            } catch (error) {
              return AdapterFormatError.isInstance(error);
            }
          });
          target.loadStateDict(stateDict);
          // Does not grow (a loaded adapter may drop a training-only part whose output the file holds).
          expect(tf.memory().numTensors).toBeLessThanOrEqual(tensorsBefore);
          await assertOutputClose(target.model, inputs, expected, { atol: 1e-6, rtol: 1e-6, message: 'reloaded adapter gives another output' });
          tf.dispose(Object.values(stateDict));
          tf.dispose([expected]);
          tf.dispose(inputs);
        });

        it('adds, switches and deletes adapters as PEFT does', async () => {
          const inputs = testCase.makeInputs();
          const model = testCase.makeModel();
          const base = output(model, inputs);
          const peftModel = new PeftModel(model, config);
          await perturbAdapter(peftModel, 'default', 0.3, 1);
          const first = output(peftModel.model, inputs);
          const tensorsBefore = tf.memory().numTensors;
          peftModel.addAdapter('other', otherConfig);
          expect(peftModel.activeAdapters).toEqual(['default']);
          await perturbAdapter(peftModel, 'other', 0.3, 99);
          await assertOutputClose(peftModel.model, inputs, first, { atol: 1e-6, rtol: 1e-6, message: 'adding an inactive adapter changed the output' });
          for (const weight of peftModel.model.trainableWeights) expect(weight.name.includes('other') && !weight.name.includes('default')).toBe(false);
          peftModel.setAdapter('other');
          expect(peftModel.activeAdapters).toEqual(['other']);
          const second = output(peftModel.model, inputs);
          expect(await maxAbsDifference(second, first)).toBeGreaterThan(1e-6);
          second.dispose();
          peftModel.deleteAdapter('other');
          expect(peftModel.activeAdapters).toEqual(['default']);
          expect(tf.memory().numTensors).toBe(tensorsBefore);
          await assertOutputClose(peftModel.model, inputs, first, { atol: 1e-6, rtol: 1e-6, message: 'deleting the other adapter changed the output' });
          peftModel.deleteAdapter('default');
          expect(peftModel.activeAdapters).toEqual([]);
          await assertOutputClose(peftModel.model, inputs, base, { atol: 1e-6, rtol: 1e-6, message: 'with no adapters left the output is not the base output' });
          tf.dispose([base, first]);
          tf.dispose(inputs);
        });

        it('leaves the model unchanged when injection fails', () => {
          const model = testCase.makeModel();
          const inputs = testCase.makeInputs();
          const layerCount = model.layers.length;
          const tensorsBefore = tf.memory().numTensors;
          let thrown: unknown;
          try {
            new PeftModel(model, { ...config, target_modules: ['no_such_layer_anywhere'] });
          } catch (error) {
            thrown = error;
          }
          expect(PeftError.isInstance(thrown), `expected a PeftError, got ${String(thrown)}`).toBe(true);
          expect(model.layers.length).toBe(layerCount);
          expect(tf.memory().numTensors).toBe(tensorsBefore);
          tf.dispose(inputs);
        });
      });
    }
  });
}
