import * as tf from '@tensorflow/tfjs-core';
import type { layers, LayersModel } from '@tensorflow/tfjs-layers';
import type { PeftConfig } from '../config/config-schema';
import { peftTypeOf } from '../config/peft-config';
import { AdapterStateError, InvalidConfigError, NoSuchAdapterError } from '../errors';
import { getModelInfo, setModelInfo } from '../registry/model-registry';
import { getTuner, listTuners } from '../registry/tuner-registry';
import type { ParamRef } from '../spec/param-ref';
import { tunerLayerStack, TunerLayer } from '../spec/tuner-layer';
import type { AdapterLayerEntry, AdapterStateDictFormat, DefaultStateDictFormat, TunerV1 } from '../spec/tuner-v1';
import { formatThousands } from '../util/strings';
import { warn } from '../util/warn';
import { BASE_ADAPTER_NAME, withForwardContext } from './forward-context';
import { injectAdapter, replaceAdapterLayers } from './inject';
import { ModulesToSaveLayer } from './modules-to-save-layer';
import { namedLayers } from './named-layers';
import { namedParameters } from './named-parameters';
import { applyLoadPlan, planStateDictLoad, selectStateDictParams, stateDictTensors, unnestedName, type StateDictSpec } from './state-dict';

export const DEFAULT_ADAPTER_NAME = 'default';

export interface GetPeftModelOptions {
  adapterName?: string;
  /** The model type (`llama`, `gpt2`, a registered custom one) for default targets. */
  modelType?: string;
  /**
   * Allow adapters of different PEFT types together (PEFT's PeftMixedModel): an adapter of another
   * type on an adapted layer wraps that layer, and `setAdapter([a, b])` runs both. Only tuners that
   * declare `mixedCompatible` can join.
   */
  mixed?: boolean;
}

/** One value, or 'irregular' when layers disagree (PEFT's TunerModelStatus). */
export type Regular<T> = T | 'irregular';

export interface ModelStatus {
  baseModelType: string;
  adapterModelType: string;
  peftTypes: Record<string, string>;
  trainableParams: number;
  totalParams: number;
  numAdapterLayers: number;
  enabled: Regular<boolean>;
  activeAdapters: Regular<string[]>;
  mergedAdapters: Regular<string[]>;
  availableAdapters: string[];
}

type AdapterLayer = TunerLayer | ModulesToSaveLayer;

function validAdapterName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0 || name.includes('.') || name === BASE_ADAPTER_NAME) {
    throw new InvalidConfigError(`adapter name ${JSON.stringify(name)} is invalid: use a non-empty name without "." (and not "${BASE_ADAPTER_NAME}")`, { field: 'adapter_name' });
  }
}

/**
 * A Sequential made with its layers (`tfl.sequential({ layers })`) builds its inner model on first
 * use, and that build marks every layer weight trainable — which would unfreeze the base weights
 * after injection the first time the user's model runs. Build it before anything is frozen.
 */
function buildLazySequential(model: LayersModel): void {
  const lazy = model as unknown as { model?: unknown; build?: () => void; getClassName(): string };
  if (lazy.getClassName() === 'Sequential' && lazy.model == null && typeof lazy.build === 'function' && (model.inputs?.length ?? 0) > 0) lazy.build();
}

/**
 * A model with PEFT adapters, as Python's PeftModel: it holds the rewritten LayersModel
 * (`model`: train it with fit() or a custom loop), the configs by adapter name, and the
 * operations on adapters. The model passed in (`baseModel`) shares its layers and weights.
 */
export class PeftModel {
  readonly baseModel: LayersModel;
  readonly peftConfig: Record<string, PeftConfig> = {};
  private current: LayersModel;
  private active: string[] = [];
  private readonly modelType: string | undefined;
  /** Whether adapters of different PEFT types may be combined (PEFT's PeftMixedModel). */
  readonly mixed: boolean;

  constructor(model: LayersModel, config: PeftConfig | Record<string, unknown>, options: GetPeftModelOptions = {}) {
    const adapterName = options.adapterName ?? DEFAULT_ADAPTER_NAME;
    validAdapterName(adapterName);
    buildLazySequential(model);
    this.baseModel = model;
    this.current = model;
    this.modelType = options.modelType ?? getModelInfo(model).modelType;
    this.mixed = options.mixed ?? false;
    this.injectNew(adapterName, config);
    this.setAdapter(adapterName);
  }

  /** The adapted model: call predict / fit / apply on it. */
  get model(): LayersModel {
    return this.current;
  }

  get peftType(): string {
    return Object.values(this.peftConfig)[0]!.peftType;
  }

  get tuner(): TunerV1<any> {
    return getTuner(this.peftType);
  }

  get activeAdapters(): string[] {
    return [...this.active];
  }

  /** The first active adapter (PEFT's `active_adapter`). */
  get activeAdapter(): string | undefined {
    return this.active[0];
  }

  get adapterNames(): string[] {
    return Object.keys(this.peftConfig);
  }

  /** Module paths of every layer that holds adapters (PEFT's `targeted_module_names`). */
  get targetedModuleNames(): string[] {
    const paths = this.adapterLayers()
      .filter(({ layer }) => TunerLayer.isTunerLayer(layer))
      .map(({ path }) => path);
    return [...new Set(paths)];
  }

  /** The model's adapter layers (tuner layers and modules_to_save copies) with their module paths. */
  adapterLayerEntries(): AdapterLayerEntry[] {
    return this.adapterLayers();
  }

  /** Every adapter layer with its path; a stack of nested tuner layers (mixed models) lists each of them, outermost first. */
  private adapterLayers(): Array<{ path: string; layer: AdapterLayer }> {
    return namedLayers(this.current)
      .filter((entry) => TunerLayer.isTunerLayer(entry.layer) || ModulesToSaveLayer.isModulesToSaveLayer(entry.layer))
      .flatMap((entry) =>
        TunerLayer.isTunerLayer(entry.layer)
          ? tunerLayerStack(entry.layer).map((layer) => ({ path: entry.path, layer: layer as AdapterLayer }))
          : [{ path: entry.path, layer: entry.layer as AdapterLayer }],
      );
  }

  private injectNew(adapterName: string, rawConfig: PeftConfig | Record<string, unknown>): void {
    const peftType = peftTypeOf(rawConfig);
    const tuner = getTuner(peftType);
    const existing = Object.keys(this.peftConfig);
    if (this.mixed && !tuner.mixedCompatible) {
      const compatible = listTuners()
        .filter((candidate) => candidate.mixedCompatible)
        .map((candidate) => candidate.peftType);
      throw new InvalidConfigError(`${peftType} adapters cannot be used in a mixed model; the registered tuners that can: ${compatible.join(', ') || 'none'}`, {
        field: 'peft_type',
      });
    }
    if (!this.mixed && existing.length > 0 && peftType !== this.peftType) {
      throw new AdapterStateError(
        `cannot combine adapters with different PEFT types: the model holds ${this.peftType}, the new adapter is ${peftType} (create the model with getPeftModel(model, config, { mixed: true }) to mix them)`,
      );
    }
    const config = tuner.parseConfig(rawConfig);
    if (config.baseModelNameOrPath === null) config.baseModelNameOrPath = getModelInfo(this.baseModel).nameOrPath ?? null;
    const sameType = Object.entries(this.peftConfig).filter(([, other]) => other.peftType === peftType);
    const result = injectAdapter(this.current, tuner, config, adapterName, {
      modelType: this.modelType,
      existing: new Map(sameType),
      mixed: this.mixed,
    });
    if (result.model !== this.current) {
      setModelInfo(result.model, getModelInfo(this.current));
      this.current = result.model;
    }
    this.peftConfig[adapterName] = result.config;
  }

  /** Adds an adapter; like PEFT it is not activated (call setAdapter). */
  addAdapter(adapterName: string, config: PeftConfig | Record<string, unknown>): void {
    validAdapterName(adapterName);
    if (adapterName in this.peftConfig) throw new AdapterStateError(`an adapter named "${adapterName}" already exists; delete it first or pick another name`);
    this.injectNew(adapterName, config);
    this.applyActive(this.active);
  }

  /** Activates one adapter, or several at once (their outputs add up). */
  setAdapter(adapterNames: string | readonly string[]): void {
    const names = typeof adapterNames === 'string' ? [adapterNames] : [...adapterNames];
    for (const name of names) if (!(name in this.peftConfig)) throw new NoSuchAdapterError({ adapterName: name, available: this.adapterNames });
    if (names.length === 0) throw new InvalidConfigError('setAdapter needs at least one adapter name');
    this.applyActive(names);
  }

  private applyActive(names: string[]): void {
    const layers = this.adapterLayers();
    for (const { layer } of layers) {
      if (ModulesToSaveLayer.isModulesToSaveLayer(layer) && names.filter((name) => layer.hasAdapter(name)).length > 1) {
        throw new AdapterStateError(`only one adapter can be active for modules_to_save layer "${layer.name}"; got ${names.join(', ')}`);
      }
    }
    for (const { layer } of layers) layer.setActiveAdapters(names.filter((name) => layer.hasAdapter(name)));
    this.active = names;
    this.updateTrainability();
  }

  /** Removes an adapter; if it was the only active one, the alphabetically first left becomes active. */
  deleteAdapter(adapterName: string): void {
    if (!(adapterName in this.peftConfig)) throw new NoSuchAdapterError({ adapterName, available: this.adapterNames });
    for (const { layer } of this.adapterLayers()) if (layer.hasAdapter(adapterName)) layer.deleteAdapter(adapterName);
    delete this.peftConfig[adapterName];
    let next = this.active.filter((name) => name !== adapterName);
    if (next.length === 0 && this.adapterNames.length > 0) {
      next = [[...this.adapterNames].sort()[0]!];
      warn(`adapter "${adapterName}" was the active adapter and was deleted; "${next[0]}" is now active`);
    }
    for (const { layer } of this.adapterLayers()) layer.setActiveAdapters(next.filter((name) => layer.hasAdapter(name)));
    this.active = next;
    this.updateTrainability();
  }

  /** Turns every adapter layer off (true) or back on (false). */
  setAdapterLayersEnabled(enabled: boolean): void {
    if (!enabled) {
      for (const name of this.active) {
        const config = this.peftConfig[name];
        const message = config ? getTuner(config.peftType).disableWarning?.(config) : undefined;
        if (message) warn(message);
      }
    }
    for (const { layer } of this.adapterLayers()) layer.setDisabled(!enabled);
  }

  /**
   * Runs `run` with every adapter disabled (the base model's output), then restores each
   * layer's previous state — also when `run` throws. Async functions are awaited.
   */
  disableAdapter<T>(run: () => T): T {
    const layers = this.adapterLayers();
    const previous = layers.map(({ layer }) => layer.disabled);
    const allDisabled = previous.every(Boolean);
    const restore = () => {
      if (!allDisabled && previous.some(Boolean)) warn('adapter layers were partly disabled before disableAdapter(); all are enabled again after it');
      for (const { layer } of layers) layer.setDisabled(allDisabled);
    };
    for (const { layer } of layers) layer.setDisabled(true);
    let result: T;
    try {
      result = run();
    } catch (error) {
      restore();
      throw error;
    }
    if (result instanceof Promise) return result.finally(restore) as T;
    restore();
    return result;
  }

  /**
   * Runs the adapted model. `adapterNames` gives one adapter per batch row (`"__base__"` for none);
   * `taskIds` gives one task id per row to methods with per-task weights.
   */
  predict(inputs: tf.Tensor | tf.Tensor[], options: { adapterNames?: readonly string[]; taskIds?: readonly number[] } = {}): tf.Tensor | tf.Tensor[] {
    if (!options.adapterNames && !options.taskIds) return this.current.predict(inputs) as tf.Tensor | tf.Tensor[];
    const batch = (Array.isArray(inputs) ? inputs[0]! : inputs).shape[0];
    const context: { adapterNames?: readonly string[]; taskIds?: readonly number[] } = {};
    if (options.taskIds) {
      if (options.taskIds.length !== batch) {
        throw new InvalidConfigError(`taskIds has ${options.taskIds.length} entries but the batch has ${batch} rows`, { field: 'task_ids' });
      }
      const bad = options.taskIds.find((id) => !Number.isInteger(id) || id < 0);
      if (bad !== undefined) throw new InvalidConfigError(`task id ${bad} is not a non-negative integer`, { field: 'task_ids' });
      context.taskIds = options.taskIds;
    }
    if (options.adapterNames) {
      if (options.adapterNames.length !== batch) {
        throw new InvalidConfigError(`adapterNames has ${options.adapterNames.length} entries but the batch has ${batch} rows`, { field: 'adapter_names' });
      }
      for (const name of new Set(options.adapterNames)) {
        if (name !== BASE_ADAPTER_NAME && !(name in this.peftConfig)) throw new NoSuchAdapterError({ adapterName: name, available: [BASE_ADAPTER_NAME, ...this.adapterNames] });
      }
      const merged = this.adapterLayers().some(({ layer }) => TunerLayer.isTunerLayer(layer) && layer.merged);
      if (merged) throw new AdapterStateError('cannot run a mixed-adapter batch while adapters are merged; unmerge first');
      context.adapterNames = options.adapterNames;
    }
    // One batch: predict() would otherwise cut it into chunks of 32 rows that no longer line up with the per-row context.
    return withForwardContext(context, () => this.current.predict(inputs, { batchSize: Math.max(batch ?? 1, 1) }) as tf.Tensor | tf.Tensor[]);
  }

  // ---- merging ---------------------------------------------------------------------------

  /** Folds the given (default: active) adapters into the base weights. */
  async mergeAdapter(adapterNames?: readonly string[], options: { safeMerge?: boolean } = {}): Promise<void> {
    const names = adapterNames ? [...adapterNames] : this.active;
    for (const name of names) if (!(name in this.peftConfig)) throw new NoSuchAdapterError({ adapterName: name, available: this.adapterNames });
    // Innermost first: an outer layer of a mixed model acts on the inner layers' output, so it merges
    // into weights that already hold theirs (this matters for a multiplicative method); unmerge runs outermost first.
    const tunerLayers = namedLayers(this.current).flatMap((entry) => tunerLayerStack(entry.layer).reverse());
    if (tunerLayers.every((layer) => names.filter((name) => layer.hasAdapter(name)).every((name) => layer.mergedAdapters.includes(name)))) {
      warn('All adapters are already merged, nothing to do.');
      return;
    }
    const done: TunerLayer[] = [];
    try {
      for (const layer of tunerLayers) {
        const before = layer.mergedAdapters.length;
        await layer.merge(
          names.filter((name) => layer.hasAdapter(name)),
          options,
        );
        if (layer.mergedAdapters.length > before) done.push(layer);
      }
    } catch (error) {
      // All or nothing: a safe merge that fails in one layer leaves no layer merged by this call.
      for (const layer of done.reverse()) layer.unmerge();
      throw error;
    }
  }

  /** Takes every merged adapter back out. */
  unmergeAdapter(): void {
    for (const { layer } of this.adapterLayers()) if (TunerLayer.isTunerLayer(layer)) layer.unmerge();
  }

  /**
   * Merges the active (or given) adapters and returns the plain model, with tuner layers
   * replaced by their base layers and modules_to_save by the active copy. The PeftModel is
   * spent afterwards (its adapters are freed).
   */
  async mergeAndUnload(options: { safeMerge?: boolean; adapterNames?: readonly string[] } = {}): Promise<LayersModel> {
    await this.mergeAdapter(options.adapterNames ?? this.active, { safeMerge: options.safeMerge });
    return this.unloadLayers();
  }

  /** Returns the base model without merging: tuner layers removed, adapters freed. */
  unload(): LayersModel {
    this.unmergeAdapter();
    return this.unloadLayers();
  }

  private unloadLayers(): LayersModel {
    const wrappers = this.adapterLayers();
    const model = replaceAdapterLayers(this.current, (entry) => {
      const layer = entry.layer;
      if (TunerLayer.isTunerLayer(layer)) return layer.innermostBaseLayer;
      if (ModulesToSaveLayer.isModulesToSaveLayer(layer)) {
        const active = layer.activeAdapters[0];
        const kept = active ? layer.module(active) : layer.originalModule;
        // The copy is named `<path>/modules_to_save/<adapter>`; in the plain model it takes the
        // module's own path again, as merge_and_unload() leaves `classifier` in Python.
        kept.name = layer.name;
        return kept;
      }
      return undefined;
    });
    for (const { layer } of wrappers) {
      if (TunerLayer.isTunerLayer(layer)) layer.releaseAdapters();
    }
    for (const param of namedParameters(model).values()) param.variable.trainable = true;
    setModelInfo(model, getModelInfo(this.current));
    this.current = model;
    for (const name of Object.keys(this.peftConfig)) delete this.peftConfig[name];
    this.active = [];
    return model;
  }

  // ---- parameters ------------------------------------------------------------------------

  /** Every parameter under PEFT's in-memory names (see namedParameters()). */
  namedParameters(): Map<string, ParamRef> {
    return namedParameters(this.current);
  }

  /** [trainable, all] parameter counts, as PEFT's get_nb_trainable_parameters. */
  getNbTrainableParameters(): [number, number] {
    let trainable = 0;
    let all = 0;
    for (const { variable } of this.namedParameters().values()) {
      const size = variable.shape.reduce((product: number, dimension) => product * (dimension ?? 1), 1);
      all += size;
      if (variable.trainable) trainable += size;
    }
    return [trainable, all];
  }

  /** `trainable params: 2,359,296 || all params: … || trainable%: 0.1915`, PEFT's exact line. */
  trainableParametersReport(): string {
    const [trainable, all] = this.getNbTrainableParameters();
    const percent = all === 0 ? 0 : (100 * trainable) / all;
    return `trainable params: ${formatThousands(trainable)} || all params: ${formatThousands(all)} || trainable%: ${percent.toFixed(4)}`;
  }

  printTrainableParameters(): void {
    console.log(this.trainableParametersReport());
  }

  /** PEFT's get_model_status. */
  getModelStatus(): ModelStatus {
    const layers = this.adapterLayers()
      .map(({ layer }) => layer)
      .filter((layer): layer is TunerLayer => TunerLayer.isTunerLayer(layer));
    const regular = <T>(values: T[]): Regular<T> => {
      if (values.length === 0) return [] as unknown as T;
      const first = JSON.stringify(values[0]);
      return values.every((value) => JSON.stringify(value) === first) ? values[0]! : 'irregular';
    };
    const [trainableParams, totalParams] = this.getNbTrainableParameters();
    const enabled = regular(layers.map((layer) => !layer.disabled));
    return {
      baseModelType: getModelInfo(this.baseModel).modelType ?? this.baseModel.getClassName(),
      adapterModelType: this.current.getClassName(),
      peftTypes: Object.fromEntries(Object.entries(this.peftConfig).map(([name, config]) => [name, config.peftType])),
      trainableParams,
      totalParams,
      numAdapterLayers: layers.length,
      enabled: layers.length === 0 ? false : (enabled as Regular<boolean>),
      activeAdapters: regular(layers.map((layer) => layer.activeAdapters.sort())),
      mergedAdapters: regular(layers.map((layer) => layer.mergedAdapters.sort())),
      availableAdapters: this.adapterNames.sort(),
    };
  }

  /**
   * PEFT's trainability: every parameter frozen, then the active adapters' own parameters,
   * their modules_to_save copies, and the tuner's extra trainable parameters (a bias option) made trainable — unless the config is
   * in inference mode. A compiled model picks up the new set of trainable weights.
   */
  private updateTrainability(): void {
    const params = this.namedParameters();
    for (const param of params.values()) param.variable.trainable = false;
    const layers = this.adapterLayers();
    for (const name of this.active) {
      const config = this.peftConfig[name];
      if (!config || config.inferenceMode) continue;
      for (const { layer } of layers) {
        if (!layer.hasAdapter(name)) continue;
        for (const param of layer.adapterParameters(name).values()) param.variable.trainable = true;
      }
      const extras = getTuner(config.peftType).trainableParameters?.(config, { adapterName: name, parameters: params, layers }) ?? [];
      for (const key of extras) {
        const param = params.get(key);
        if (param) param.variable.trainable = true;
      }
    }
    const compiled = this.current as unknown as { collectedTrainableWeights?: unknown };
    if (compiled.collectedTrainableWeights) compiled.collectedTrainableWeights = this.current.trainableWeights;
  }

  // ---- state dicts -----------------------------------------------------------------------

  private stateDictSpec(adapterName: string): StateDictSpec {
    const config = this.peftConfig[adapterName];
    if (!config) throw new NoSuchAdapterError({ adapterName, available: this.adapterNames });
    const tuner = getTuner(config.peftType);
    const layers = this.adapterLayers();
    const extras = tuner.savedParameters?.(config, { adapterName, parameters: this.namedParameters(), layers }) ?? [];
    return {
      weightPrefix: tuner.weightPrefix,
      adapterName,
      extraParameters: new Set(extras),
      modulesToSavePaths: layers.filter(({ layer }) => ModulesToSaveLayer.isModulesToSaveLayer(layer) && layer.hasAdapter(adapterName)).map(({ path }) => path),
    };
  }

  /** The tuner's own save format for an adapter (prompt learning, shared tensors), with its layers; undefined for core's per-layer keys. */
  private ownStateDictFormat(adapterName: string): { format: AdapterStateDictFormat; layers: AdapterLayerEntry[]; defaults: DefaultStateDictFormat } | undefined {
    const config = this.peftConfig[adapterName];
    if (!config) throw new NoSuchAdapterError({ adapterName, available: this.adapterNames });
    const format = getTuner(config.peftType).stateDictFormat;
    if (!format) return undefined;
    return { format, layers: this.adapterLayers(), defaults: this.defaultStateDictFormat(adapterName) };
  }

  /** Core's per-layer keys for an adapter (see DefaultStateDictFormat). */
  private defaultStateDictFormat(adapterName: string): DefaultStateDictFormat {
    return {
      shapes: () => {
        const selected = selectStateDictParams(this.namedParameters(), this.stateDictSpec(adapterName));
        return Object.fromEntries([...selected].map(([key, { param }]) => [key, [...param.torchShape]]));
      },
      save: () => stateDictTensors(selectStateDictParams(this.namedParameters(), this.stateDictSpec(adapterName))),
      prepareLoad: (tensors) => {
        const spec = this.stateDictSpec(adapterName);
        const params = this.namedParameters();
        const expectedSelection = selectStateDictParams(params, { ...spec, extraParameters: new Set() });
        const expected = new Map([...expectedSelection.values()].map(({ source, param }) => [source.includes(spec.weightPrefix) ? unnestedName(source) : source, param] as const));
        const plan = planStateDictLoad(tensors, params, expected, spec);
        return () => applyLoadPlan(plan);
      },
    };
  }

  /** The adapter's tensors as Python PEFT saves them: keys `base_model.model.<path>.<prefix>A.weight`, torch layouts. The caller disposes them. */
  getStateDict(adapterName: string = this.activeAdapter ?? DEFAULT_ADAPTER_NAME): Record<string, tf.Tensor> {
    const own = this.ownStateDictFormat(adapterName);
    if (own) return own.format.save(own.layers, adapterName, own.defaults);
    return this.defaultStateDictFormat(adapterName).save();
  }

  /** The keys and torch shapes getStateDict() would return, without reading any tensor. */
  getStateDictShapes(adapterName: string = this.activeAdapter ?? DEFAULT_ADAPTER_NAME): Record<string, number[]> {
    const own = this.ownStateDictFormat(adapterName);
    if (own) return own.format.shapes(own.layers, adapterName, own.defaults);
    return this.defaultStateDictFormat(adapterName).shapes();
  }

  /**
   * Loads tensors saved by Python PEFT (or getStateDict) into an adapter. Every tensor is
   * checked first — missing ones and shape mismatches throw, unexpected ones warn — so a bad
   * file changes nothing.
   */
  loadStateDict(tensors: Readonly<Record<string, tf.Tensor>>, adapterName: string = this.activeAdapter ?? DEFAULT_ADAPTER_NAME): void {
    const own = this.ownStateDictFormat(adapterName);
    if (own) {
      own.format.load(own.layers, adapterName, tensors, own.defaults);
      return;
    }
    this.defaultStateDictFormat(adapterName).prepareLoad(tensors)();
  }
}

/** Wraps a model with a first adapter, as Python's get_peft_model. */
export function getPeftModel(model: LayersModel, config: PeftConfig | Record<string, unknown>, options: GetPeftModelOptions = {}): PeftModel {
  return new PeftModel(model, config, options);
}

/** The layer at a module path of a model, if any. */
export function getLayerByPath(model: LayersModel, path: string): layers.Layer | undefined {
  return namedLayers(model).find((entry) => entry.path === path)?.layer;
}

/** PEFT's get_peft_model_state_dict: the adapter's tensors under Python's keys and layouts (caller disposes). */
export function getPeftModelStateDict(peftModel: PeftModel, adapterName?: string): Record<string, tf.Tensor> {
  return peftModel.getStateDict(adapterName);
}

/** PEFT's set_peft_model_state_dict, strict: missing or mis-shaped tensors throw before anything is written. */
export function setPeftModelStateDict(peftModel: PeftModel, tensors: Readonly<Record<string, tf.Tensor>>, adapterName?: string): void {
  peftModel.loadStateDict(tensors, adapterName);
}
