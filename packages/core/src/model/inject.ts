import type { layers, LayersModel } from '@tensorflow/tfjs-layers';
import type { PeftConfig } from '../config/config-schema';
import { AdapterStateError, InvalidConfigError, NoMatchingTargetError, UnsupportedLayerError } from '../errors';
import { getArchitecture, getModelInfo, getRegisteredTargetDefaults } from '../registry/model-registry';
import { isPeftContainer } from '../spec/peft-container';
import type { TunerV1, ModelContext, TargetDefaults } from '../spec/tuner-v1';
import { innermostLayer, TunerLayer } from '../spec/tuner-layer';
import { checkTargetingFields, closestLayerNames, isTargeted, matchesModulesToSave, matchesTargetModules, type TargetingFields } from '../targeting/match-target';
import { warn } from '../util/warn';
import { isLinearLayerClass } from './linear-layers';
import { ModulesToSaveLayer } from './modules-to-save-layer';
import { isLayersModel, namedLayers, type NamedLayer } from './named-layers';
import { createJournal, rewriteModel, rollbackJournal } from './rewrite-model';

type TargetingConfig = PeftConfig & TargetingFields;

export interface InjectResult<Config> {
  model: LayersModel;
  config: Config;
  targetPaths: string[];
}

/** The model type given explicitly, else what was attached to the model. */
export function modelContext(model: LayersModel, modelType?: string): ModelContext {
  const type = modelType ?? getModelInfo(model).modelType;
  return { model, modelType: type, architecture: type ? getArchitecture(type) : undefined };
}

function defaultTargets(tuner: TunerV1<any>, context: ModelContext): TargetDefaults | undefined {
  const { modelType, architecture } = context;
  if (!modelType) return undefined;
  return (
    getRegisteredTargetDefaults(tuner.peftType, modelType) ?? tuner.defaultTargets?.[modelType] ?? (architecture ? tuner.defaultTargetsForArchitecture?.(architecture) : undefined)
  );
}

/** The default applyTargetDefaults: each field of `defaults` fills the config field of that name while it is null. */
function fillUnsetFields<Config extends TargetingConfig>(config: Config, defaults: TargetDefaults): Config {
  const filled = { ...config } as Record<string, unknown>;
  for (const [field, value] of Object.entries(defaults)) {
    if (field !== 'targetModules' && field in filled && filled[field] === null) filled[field] = Array.isArray(value) ? [...value] : value;
  }
  return filled as Config;
}

/** Fills target_modules from the model type's defaults and expands 'all-linear'. */
export function prepareTargeting<Config extends TargetingConfig>(tuner: TunerV1<Config>, config: Config, context: ModelContext, named: readonly NamedLayer[]): Config {
  let prepared = { ...config };
  if (prepared.targetModules === null) {
    const defaults = defaultTargets(tuner, context);
    if (!defaults) {
      throw new InvalidConfigError(
        context.modelType
          ? `target_modules is not set and model type "${context.modelType}" has no default targets for ${tuner.peftType}; set target_modules, or register the architecture's defaults with registerArchitecture()`
          : `target_modules is not set and the model type is unknown; set target_modules, or pass { modelType } to getPeftModel for a registered architecture`,
        { field: 'target_modules' },
      );
    }
    prepared = { ...prepared, targetModules: [...defaults.targetModules] };
    prepared = tuner.applyTargetDefaults ? tuner.applyTargetDefaults(prepared, defaults) : fillUnsetFields(prepared, defaults);
  }
  if (typeof prepared.targetModules === 'string' && prepared.targetModules.toLowerCase() === 'all-linear') {
    prepared = { ...prepared, targetModules: allLinearTargets(context, named) };
  }
  if (tuner.prepareConfig) prepared = tuner.prepareConfig(prepared, context);
  checkTargetingFields(prepared);
  return prepared;
}

/** PEFT's 'all-linear': the leaf names of every linear layer except the output head's. */
export function allLinearTargets(context: ModelContext, named: readonly NamedLayer[]): string[] {
  const info = getModelInfo(context.model);
  const outputs = new Set<layers.Layer>();
  const collectOutputs = (model: LayersModel) => {
    for (const output of model.outputs) {
      outputs.add(output.sourceLayer);
      if (isLayersModel(output.sourceLayer)) collectOutputs(output.sourceLayer);
    }
  };
  collectOutputs(context.model);
  const leaf = (path: string) => path.slice(path.lastIndexOf('.') + 1);
  const headLeaves = new Set<string>();
  if (info.outputHeadPath) headLeaves.add(leaf(info.outputHeadPath));
  if (context.architecture?.roles.outputHead) headLeaves.add(leaf(context.architecture.roles.outputHead));
  const linear = named.filter((entry) => !entry.isContainer && isLinearLayerClass(baseOf(entry.layer).getClassName()));
  // A described model type says which layer is its output embedding (none for a classifier, as
  // transformers' get_output_embeddings()); an undescribed model's linear outputs are its heads.
  const described = info.modelType !== undefined || context.architecture !== undefined;
  if (!described) for (const entry of linear) if (outputs.has(entry.layer)) headLeaves.add(leaf(entry.path));
  const names = [...new Set(linear.map((entry) => leaf(entry.path)))].filter((name) => !headLeaves.has(name));
  if (names.length === 0) throw new NoMatchingTargetError("target_modules 'all-linear' found no linear layer besides the output head");
  return names;
}

function baseOf(layer: layers.Layer): layers.Layer {
  return innermostLayer(layer);
}

function describeTargets(targetModules: string | readonly string[]): string {
  return typeof targetModules === 'string' ? JSON.stringify(targetModules) : `[${targetModules.map((target) => JSON.stringify(target)).join(', ')}]`;
}

/**
 * Puts one adapter into a model, as PEFT's inject_adapter does: modules_to_save matches are
 * wrapped, targets are wrapped in the tuner's layer (or get the adapter added where already
 * wrapped), and the graph is rebuilt. All or nothing: on any error the model is as it was.
 */
export function injectAdapter<Config extends TargetingConfig>(
  model: LayersModel,
  tuner: TunerV1<Config>,
  rawConfig: Config,
  adapterName: string,
  options: { modelType?: string; existing?: ReadonlyMap<string, Config>; mixed?: boolean } = {},
): InjectResult<Config> {
  const named = namedLayers(model);
  const context = modelContext(model, options.modelType);
  // A tuner that picks its own layers (prompt learning) gets the model-prepared config and no target matching.
  const selfTargeting = typeof tuner.selectTargets === 'function';
  const config = selfTargeting ? (tuner.prepareConfig ? tuner.prepareConfig({ ...rawConfig }, context) : rawConfig) : prepareTargeting(tuner, rawConfig, context, named);
  tuner.checkNewAdapter?.(config, options.existing ?? new Map());
  const selected = selfTargeting ? new Set(tuner.selectTargets!(config, context, named)) : undefined;
  const targetModules = config.targetModules!;

  const targets: NamedLayer[] = [];
  const toSave: NamedLayer[] = [];
  for (const entry of named) {
    if (matchesModulesToSave(entry.path, config.modulesToSave)) {
      if (!entry.isContainer) toSave.push(entry);
      continue;
    }
    if (selected ? selected.has(entry.path) : isTargeted(entry.path, config)) targets.push(entry);
  }
  const paths = named.map((entry) => entry.path);
  if (targets.length === 0) {
    if (selected) throw new NoMatchingTargetError(`${tuner.peftType} found no layer of the model to adapt`);
    const probes = typeof targetModules === 'string' ? [targetModules] : targetModules;
    const hints = probes.map((probe) => `${probe}: ${closestLayerNames(probe, paths).join(', ')}`).join('; ');
    throw new NoMatchingTargetError(`target_modules ${describeTargets(targetModules)} matched no layer of the model; layers named like it — ${hints}`);
  }
  if (!selected && Array.isArray(targetModules)) {
    for (const target of targetModules) {
      if (!paths.some((path) => matchesTargetModules(path, [target]))) {
        warn(`target "${target}" matched no layer; layers named like it: ${closestLayerNames(target, paths).join(', ')}`);
      }
    }
  }

  const targetPaths = targets.map((entry) => entry.path);
  const replacements = new Map<layers.Layer, layers.Layer>();
  const containerSwaps: Array<() => void> = [];
  const undo: Array<() => void> = [];
  const journal = createJournal();
  try {
    for (const entry of targets) {
      const layerContext = { adapterName, config, path: entry.path, targetPaths };
      if (entry.isContainer) {
        throw new UnsupportedLayerError({ layerPath: entry.path, className: entry.layer.getClassName(), peftType: tuner.peftType, supported: tuner.supportedLayerClasses });
      }
      if (TunerLayer.isTunerLayer(entry.layer) && entry.layer.peftType !== tuner.peftType && !options.mixed) {
        throw new AdapterStateError(
          `layer "${entry.path}" already holds a ${entry.layer.peftType} adapter; adapters of different PEFT types cannot be combined on one model (create the model with getPeftModel(model, config, { mixed: true }))`,
        );
      }
      if (TunerLayer.isTunerLayer(entry.layer) && entry.layer.peftType === tuner.peftType) {
        const layer = entry.layer;
        tuner.updateLayer(layer, layerContext);
        undo.push(() => layer.hasAdapter(adapterName) && layer.deleteAdapter(adapterName));
        continue;
      }
      if (ModulesToSaveLayer.isModulesToSaveLayer(entry.layer)) {
        throw new AdapterStateError(`layer "${entry.path}" is in modules_to_save of another adapter and cannot also be a target`);
      }
      // In a mixed model the new layer wraps the other tuner's layer (the later one outside, as in
      // PEFT); whether it can is decided by the plain layer at the bottom.
      const plain = innermostLayer(entry.layer);
      const adaptable = tuner.canAdapt ? tuner.canAdapt(plain) : tuner.supportedLayerClasses.includes(plain.getClassName());
      if (!adaptable) {
        throw new UnsupportedLayerError({ layerPath: entry.path, className: plain.getClassName(), peftType: tuner.peftType, supported: tuner.supportedLayerClasses });
      }
      const wrapper = tuner.createLayer(entry.layer, layerContext);
      undo.push(() => wrapper.adapterNames.forEach((name) => wrapper.deleteAdapter(name)));
      place(entry, wrapper, replacements, containerSwaps, undo);
    }
    for (const entry of toSave) {
      if (TunerLayer.isTunerLayer(entry.layer)) {
        throw new AdapterStateError(`layer "${entry.path}" holds adapters and cannot also be in modules_to_save`);
      }
      if (ModulesToSaveLayer.isModulesToSaveLayer(entry.layer)) {
        const layer = entry.layer;
        if (!layer.hasAdapter(adapterName)) {
          layer.addAdapter(adapterName);
          undo.push(() => layer.deleteAdapter(adapterName));
        }
        continue;
      }
      const wrapper = new ModulesToSaveLayer({ originalModule: entry.layer });
      wrapper.addAdapter(adapterName);
      undo.push(() => wrapper.deleteAdapter(adapterName));
      place(entry, wrapper, replacements, containerSwaps, undo);
    }
    const rewritten = replacements.size > 0 ? rewriteModel(model, replacements, journal) : model;
    for (const swap of containerSwaps) swap();
    return { model: rewritten, config, targetPaths };
  } catch (error) {
    for (const step of undo.reverse()) step();
    rollbackJournal(journal);
    throw error;
  }
}

function place(entry: NamedLayer, wrapper: layers.Layer, replacements: Map<layers.Layer, layers.Layer>, containerSwaps: Array<() => void>, undo: Array<() => void>): void {
  if (entry.parent.kind === 'model') {
    replacements.set(entry.layer, wrapper);
    return;
  }
  const { container, childName } = entry.parent;
  if (!isPeftContainer(container)) return;
  const original = entry.layer;
  containerSwaps.push(() => container.peftReplaceChildLayer(childName, wrapper));
  undo.push(() => container.peftReplaceChildLayer(childName, original));
}

/** Swaps every tuner / modules_to_save layer for what `choose` returns and rebuilds the graph. */
export function replaceAdapterLayers(model: LayersModel, choose: (entry: NamedLayer) => layers.Layer | undefined): LayersModel {
  const replacements = new Map<layers.Layer, layers.Layer>();
  for (const entry of namedLayers(model)) {
    const replacement = choose(entry);
    if (!replacement || replacement === entry.layer) continue;
    if (entry.parent.kind === 'model') replacements.set(entry.layer, replacement);
    else entry.parent.container.peftReplaceChildLayer(entry.parent.childName, replacement);
  }
  return replacements.size > 0 ? rewriteModel(model, replacements) : model;
}
