export { LORA_PEFT_TYPE, loraConfigSchema, createLoraConfig, isPissaInit, pissaIterations, type LoraConfig, type LoraConfigOptions, type LoraInit } from './lora-config';
export { LORA_DEFAULT_TARGETS } from './lora-default-targets';
export { LoraLayer, loraScaling, type LoraAdapterOptions, type LoraFactors } from './lora-layer';
export { LoraDense } from './lora-dense-layer';
export { LoraConv2D } from './lora-conv2d-layer';
export { LoraEmbedding } from './lora-embedding-layer';
export { createLora, lora, loraAdapterOptions, patternKey, LORA_WEIGHT_PREFIX, type LoraSettings } from './lora-tuner';
export { addWeightedAdapter, COMBINATION_TYPES, type AddWeightedAdapterOptions, type CombinationType } from './add-weighted-adapter';
export type { MajoritySignMethod } from './merge-utils';
export { initializePissa } from './pissa';
// The bias option's hooks moved to core (several methods share them); kept here for existing imports.
export { biasOptionHooks, trainableBiases, savedBiases, biasDisableWarning } from '@peftjs/core';
