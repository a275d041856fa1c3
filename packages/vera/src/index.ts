export { VERA_PEFT_TYPE, veraConfigSchema, createVeraConfig, type VeraConfig, type VeraConfigOptions } from './vera-config';
export { VERA_DEFAULT_TARGETS } from './vera-default-targets';
export { VeraDense, type VeraAdapterOptions } from './vera-layer';
export { VeraProjections } from './vera-projections';
export { veraStateDictFormat, VERA_A_KEY, VERA_B_KEY } from './vera-state-dict';
export { TorchGenerator, kaimingUniformBound, veraProjectionValues } from './torch-generator';
export { createVera, vera, veraAdapterOptions, VERA_WEIGHT_PREFIX, type VeraSettings } from './vera-tuner';
