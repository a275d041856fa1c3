import type { TunerV1 } from '@peftjs/core';
import { createLycorisTuner, type LycorisSettings } from '@peftjs/lycoris';
import { LOKR_PEFT_TYPE, lokrConfigSchema, type LokrConfig } from './lokr-config';
import { LokrConv2D, LokrDense } from './lokr-layer';

/** The prefix that marks LoKr weights in PEFT's key names. */
export const LOKR_WEIGHT_PREFIX = 'lokr_';

/** Options for a LoKr tuner instance. */
export type LokrSettings = LycorisSettings;

/** Builds a LoKr tuner; `lokr` is the ready default instance. */
export function createLokr(settings: LokrSettings = {}): TunerV1<LokrConfig> {
  return createLycorisTuner(
    {
      peftType: LOKR_PEFT_TYPE,
      weightPrefix: LOKR_WEIGHT_PREFIX,
      packageName: '@peftjs/lokr',
      schema: lokrConfigSchema,
      dense: LokrDense,
      conv2d: LokrConv2D,
      extraOptions: (config) => ({ decomposeBoth: config.decomposeBoth, decomposeFactor: config.decomposeFactor }),
    },
    settings,
  );
}

/** The LoKr tuner with PEFT 0.11.1's defaults: `registerTuner(lokr)`. */
export const lokr: TunerV1<LokrConfig> = createLokr();
