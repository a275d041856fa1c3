export { LN_TUNING_PEFT_TYPE, lnTuningConfigSchema, createLnTuningConfig, type LNTuningConfig, type LNTuningConfigOptions } from './ln-tuning-config';
export { LN_TUNING_DEFAULT_TARGETS } from './ln-tuning-default-targets';
export { LNTuningLayer, isCopyableLayer } from './ln-tuning-layer';
export { createLnTuning, lnTuning, LN_TUNING_WEIGHT_PREFIX, type LNTuningSettings } from './ln-tuning-tuner';
