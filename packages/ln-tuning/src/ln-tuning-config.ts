import { defineConfigSchema, fields, type TaskType } from '@peftjs/core';

/** The `peft_type` LN tuning adapters carry in adapter_config.json. */
export const LN_TUNING_PEFT_TYPE = 'LN_TUNING';

export const lnTuningConfigSchema = defineConfigSchema({
  peftType: LN_TUNING_PEFT_TYPE,
  fields: {
    target_modules: fields.targets(null),
    modules_to_save: fields.nullableStringList(null),
  },
});

/** A parsed LN tuning config: PEFT 0.11.1's LNTuningConfig with camelCase names. */
export type LNTuningConfig = ReturnType<typeof lnTuningConfigSchema.parse>;

/** What `createLnTuningConfig` takes (snake_case keys work too). */
export interface LNTuningConfigOptions {
  targetModules?: string | readonly string[] | null;
  modulesToSave?: readonly string[] | null;
  taskType?: TaskType | null;
  inferenceMode?: boolean;
  baseModelNameOrPath?: string | null;
  revision?: string | null;
}

/** Builds a validated LN tuning config, with PEFT 0.11.1's defaults for the rest. */
export function createLnTuningConfig(options: LNTuningConfigOptions = {}): LNTuningConfig {
  return lnTuningConfigSchema.parse({ ...options, peft_type: LN_TUNING_PEFT_TYPE });
}
