export { ADALORA_PEFT_TYPE, adaloraConfigSchema, createAdaloraConfig, type AdaLoraConfig, type AdaLoraConfigOptions, type AdaLoraRankPattern } from './adalora-config';
export { ADALORA_DEFAULT_TARGETS } from './adalora-default-targets';
export { AdaLoraDense, type AdaLoraAdapterOptions } from './adalora-layer';
export { RankAllocator, type AdaLoraLayerEntry, type BudgetStep } from './rank-allocator';
export { updateAndAllocate, disposeRankAllocator, rankAllocatorOf, trainableAdaloraAdapter, adaloraLayers, type StepGradients } from './update-and-allocate';
export { orthogonalRegularization } from './orthogonal-regularization';
export { createAdalora, adalora, adaloraAdapterOptions, ADALORA_WEIGHT_PREFIX, type AdaLoraSettings } from './adalora-tuner';
