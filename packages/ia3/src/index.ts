export { ia3, createIA3, type IA3Settings } from './ia3-tuner';
export { IA3Dense, IA3Conv2D, type IA3LayerOptions } from './ia3-layer';
export { ia3ConfigSchema, createIA3Config, isFeedforward, IA3_PEFT_TYPE, type IA3Config, type IA3ConfigOptions } from './ia3-config';
export { IA3_DEFAULT_TARGETS } from './ia3-default-targets';
