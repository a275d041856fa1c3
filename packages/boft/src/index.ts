export { BOFT_PEFT_TYPE, boftConfigSchema, createBoftConfig, type BoftConfig, type BoftConfigOptions } from './boft-config';
export { BOFT_DEFAULT_TARGETS } from './boft-default-targets';
export { BoftLayer, BoftDense, BoftConv2D, type BoftAdapterOptions } from './boft-layer';
export { boftStateDictFormat } from './boft-state-dict';
export { blockButterflyPermutation, boftBlocks, type BoftBlocks } from './butterfly';
export { createBoft, boft, boftAdapterOptions, BOFT_WEIGHT_PREFIX, type BoftSettings } from './boft-tuner';
