export { LOHA_PEFT_TYPE, lohaConfigSchema, createLohaConfig, type LohaConfig, type LohaConfigOptions } from './loha-config';
export { LohaDense, LohaConv2D } from './loha-layer';
export { createLoha, loha, LOHA_WEIGHT_PREFIX, type LohaSettings } from './loha-tuner';
