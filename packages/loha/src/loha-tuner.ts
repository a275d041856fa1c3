import type { TunerV1 } from '@peftjs/core';
import { createLycorisTuner, type LycorisSettings } from '@peftjs/lycoris';
import { LOHA_PEFT_TYPE, lohaConfigSchema, type LohaConfig } from './loha-config';
import { LohaConv2D, LohaDense } from './loha-layer';

/** The prefix that marks LoHa weights in PEFT's key names. */
export const LOHA_WEIGHT_PREFIX = 'hada_';

/** Options for a LoHa tuner instance. */
export type LohaSettings = LycorisSettings;

/** Builds a LoHa tuner; `loha` is the ready default instance. */
export function createLoha(settings: LohaSettings = {}): TunerV1<LohaConfig> {
  return createLycorisTuner(
    { peftType: LOHA_PEFT_TYPE, weightPrefix: LOHA_WEIGHT_PREFIX, packageName: '@peftjs/loha', schema: lohaConfigSchema, dense: LohaDense, conv2d: LohaConv2D },
    settings,
  );
}

/** The LoHa tuner with PEFT 0.11.1's defaults: `registerTuner(loha)`. */
export const loha: TunerV1<LohaConfig> = createLoha();
