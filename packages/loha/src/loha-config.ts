import { defineConfigSchema, type TaskType } from '@peftjs/core';
import { lycorisConfigFields } from '@peftjs/lycoris';

/** The `peft_type` LoHa adapters carry in adapter_config.json. */
export const LOHA_PEFT_TYPE = 'LOHA';

/** PEFT 0.11.1's LoHaConfig: the shared LyCORIS fields, nothing more. */
export const lohaConfigSchema = defineConfigSchema({
  peftType: LOHA_PEFT_TYPE,
  fields: lycorisConfigFields(),
});

/** A parsed LoHa config: PEFT 0.11.1's LoHaConfig with camelCase names and every default filled in. */
export type LohaConfig = ReturnType<typeof lohaConfigSchema.parse>;

/** What `createLohaConfig` takes: any LoHaConfig field in camelCase (snake_case keys work too). */
export interface LohaConfigOptions {
  r?: number;
  alpha?: number;
  rankDropout?: number;
  moduleDropout?: number;
  useEffectiveConv2d?: boolean;
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

/** Builds a validated LoHa config from camelCase options, with PEFT 0.11.1's defaults for the rest. */
export function createLohaConfig(options: LohaConfigOptions = {}): LohaConfig {
  return lohaConfigSchema.parse({ ...options, peft_type: LOHA_PEFT_TYPE });
}
