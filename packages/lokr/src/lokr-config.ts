import { defineConfigSchema, fields, type TaskType } from '@peftjs/core';
import { lycorisConfigFields } from '@peftjs/lycoris';

/** The `peft_type` LoKr adapters carry in adapter_config.json. */
export const LOKR_PEFT_TYPE = 'LOKR';

/**
 * PEFT 0.11.1's LoKrConfig: the shared LyCORIS fields plus `decompose_both` (also split the left
 * Kronecker factor into two low-rank factors) and `decompose_factor` (-1: the most square split).
 * `alpha` is read and written but, as in PEFT 0.11.1, has no effect.
 */
export const lokrConfigSchema = defineConfigSchema({
  peftType: LOKR_PEFT_TYPE,
  fields: {
    ...lycorisConfigFields(),
    decompose_both: fields.boolean(false),
    decompose_factor: fields.integer(-1),
  },
});

/** A parsed LoKr config: PEFT 0.11.1's LoKrConfig with camelCase names and every default filled in. */
export type LokrConfig = ReturnType<typeof lokrConfigSchema.parse>;

/** What `createLokrConfig` takes: any LoKrConfig field in camelCase (snake_case keys work too). */
export interface LokrConfigOptions {
  r?: number;
  /** Kept for the file; PEFT 0.11.1's LoKr never applies α / r. */
  alpha?: number;
  rankDropout?: number;
  moduleDropout?: number;
  useEffectiveConv2d?: boolean;
  decomposeBoth?: boolean;
  decomposeFactor?: number;
  targetModules?: string | readonly string[] | null;
  initWeights?: boolean;
  layersToTransform?: number | readonly number[] | null;
  layersPattern?: string | readonly string[] | null;
  rankPattern?: Record<string, number>;
  alphaPattern?: Record<string, number>;
  modulesToSave?: readonly string[] | null;
  taskType?: TaskType | null;
  inferenceMode?: boolean;
  baseModelNameOrPath?: string | null;
  revision?: string | null;
}

/** Builds a validated LoKr config from camelCase options, with PEFT 0.11.1's defaults for the rest. */
export function createLokrConfig(options: LokrConfigOptions = {}): LokrConfig {
  return lokrConfigSchema.parse({ ...options, peft_type: LOKR_PEFT_TYPE });
}
