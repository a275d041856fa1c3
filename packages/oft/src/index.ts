export { OFT_PEFT_TYPE, oftConfigSchema, createOftConfig, lycorisPatternKey, type OftConfig, type OftConfigOptions } from './oft-config';
export { OftLayer, OftDense, OftConv2D, type OftAdapterOptions } from './oft-layer';
export { createOft, oft, oftAdapterOptions, OFT_WEIGHT_PREFIX, type OftSettings } from './oft-tuner';
export { batchedInverse, differentiableInverse, cayleyBatch, blockDiagonal } from './orthogonal-matrices';
export { innermostLayer, torchModuleKind, findBias, findWeight, requireKernel, matMulLastAxis, convSettings, layerActivation, type ConvSettings } from './base-layer';
export { InferenceCache } from './inference-cache';
