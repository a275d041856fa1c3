export { POLY_PEFT_TYPE, polyConfigSchema, createPolyConfig, type PolyConfig, type PolyConfigOptions } from './poly-config';
export { PolyDense, type PolyAdapterOptions } from './poly-layer';
export { mixingWeights } from './poly-router';
export { TaskIdsError } from './task-ids-error';
export { createPoly, poly, POLY_WEIGHT_PREFIX, type PolySettings } from './poly-tuner';
