export { LOKR_PEFT_TYPE, lokrConfigSchema, createLokrConfig, type LokrConfig, type LokrConfigOptions } from './lokr-config';
export { LokrDense, LokrConv2D, lokrShape, type LokrAdapterOptions, type LokrShape } from './lokr-layer';
export { factorization } from './factorization';
export { createLokr, lokr, LOKR_WEIGHT_PREFIX, type LokrSettings } from './lokr-tuner';
