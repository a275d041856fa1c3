import { registerMissingBackendHint } from './util/missing-backend-hint';

export * from './errors';
export type { ParamRef } from './spec/param-ref';
export type {
  TunerV1,
  AnyTuner,
  LayerContext,
  ModelContext,
  TargetDefaults,
  AdapterParameterContext,
  SerializableLayerClass,
  AdapterLayerEntry,
  AdapterStateDictFormat,
  DefaultStateDictFormat,
  TunerTrainingHooks,
  TrainingHookContext,
} from './spec/tuner-v1';
export type { GenerationPlan, TunerGenerationHooks } from './spec/generation-hooks';
export { generationPlan } from './model/generation-plan';
export { TunerLayer, innermostLayer, tunerLayerStack, type TunerLayerArgs, type VariableUpdate } from './spec/tuner-layer';
export { isPeftContainer, type PeftContainer } from './spec/peft-container';
export {
  KEY_VALUE_CACHE_LAYER,
  POSITION_IDS_LAYER,
  ATTENTION_MASK_LAYER,
  INPUTS_EMBEDS_LAYER,
  isKeyValueCacheLayer,
  isPositionIdsLayer,
  isAttentionMaskLayer,
  isInputsEmbedsLayer,
  type KeyValueCacheLayer,
  type InputsEmbedsLayer,
} from './spec/layer-contracts';
export { registerTuner, unregisterTuner, getTuner, hasTuner, listTuners, SUPPORTED_SPECIFICATION_VERSIONS, type RegisterTunerOptions } from './registry/tuner-registry';
export {
  registerArchitecture,
  getArchitecture,
  listArchitectures,
  unregisterArchitecture,
  registerTargetDefaults,
  getRegisteredTargetDefaults,
  setModelInfo,
  getModelInfo,
  type ArchitectureConfig,
  type LayerRoles,
  type ModelInfo,
} from './registry/model-registry';
export { fields, describeField, type ConfigField, type ConfigFieldType } from './config/config-fields';
export {
  defineConfigSchema,
  toPythonJson,
  TASK_TYPES,
  type TaskType,
  type PeftConfig,
  type ConfigSchema,
  type TypedFields,
  type ConfigFieldInfo,
  type ConfigOptions,
} from './config/config-schema';
export { parsePeftConfig, serializePeftConfig, peftTypeOf } from './config/peft-config';
export {
  fullMatch,
  matchesTargetModules,
  layerIndexOf,
  isTargeted,
  matchesModulesToSave,
  checkTargetingFields,
  closestLayerNames,
  type TargetingFields,
} from './targeting/match-target';
export { queryValueTargets } from './targeting/query-value-targets';
export { targetModulesTable, SHARED_DEFAULT_TARGETS } from './targeting/default-target-tables';
export { registerLayerFormat, getLayerFormat, layerParameters, permutedParam, type LayerFormat } from './model/layer-parameters';
export { registerLinearLayerClass, isLinearLayerClass } from './model/linear-layers';
export { FROZEN_LINEAR_LAYER, isFrozenLinearLayer, type FrozenLinearLayer } from './model/frozen-linear-layer';
export { namedLayers, type NamedLayer } from './model/named-layers';
export { namedParameters } from './model/named-parameters';
export { rewriteModel } from './model/rewrite-model';
export { ModulesToSaveLayer, type ModulesToSaveCopySource } from './model/modules-to-save-layer';
export { withForwardContext, currentForwardContext, BASE_ADAPTER_NAME, type ForwardContext } from './model/forward-context';
export { injectAdapter, allLinearTargets } from './model/inject';
export { biasOptionHooks, trainableBiases, savedBiases, biasDisableWarning } from './model/bias-option';
export { isFanInFanOutLayer, correctFanInFanOut } from './model/fan-in-fan-out';
export { PEFT_KEY_PREFIX } from './model/state-dict';
export {
  PeftModel,
  getPeftModel,
  getPeftModelStateDict,
  setPeftModelStateDict,
  getLayerByPath,
  DEFAULT_ADAPTER_NAME,
  type GetPeftModelOptions,
  type ModelStatus,
  type Regular,
} from './model/peft-model';
export { warn, setWarningHandler, type WarningHandler } from './util/warn';
export { snakeToCamel, camelToSnake } from './util/strings';
export { createSeededRandom, withSeededMathRandom, shuffled } from './util/seeded-random';

// The one side effect of importing core (listed in package.json's sideEffects): with no backend
// installed, tfjs names the packages to install instead of "No backend found in registry".
registerMissingBackendHint();
