import { defineConfigSchema, fields, InvalidConfigError, type ConfigField, type TaskType } from '@peftjs/core';

/** The `peft_type` Poly adapters carry in adapter_config.json. */
export const POLY_PEFT_TYPE = 'POLY';

function positiveInteger(defaultValue: number, what: string): ConfigField<number> {
  const base = fields.integer(defaultValue);
  return {
    ...base,
    parse(value, name) {
      const parsed = base.parse(value, name);
      if (parsed <= 0) throw new InvalidConfigError(`config field "${name}" is ${parsed}; expected a positive integer (${what})`, { field: name });
      return parsed;
    },
  };
}

export const polyConfigSchema = defineConfigSchema({
  peftType: POLY_PEFT_TYPE,
  fields: {
    r: positiveInteger(8, 'the rank of each skill'),
    target_modules: fields.targets(null),
    modules_to_save: fields.nullableStringList(null),
    init_weights: fields.boolean(true),
    // PEFT 0.11.1's get_router knows only "poly".
    poly_type: fields.oneOf<'poly'>('poly', ['poly']),
    n_tasks: positiveInteger(1, 'the number of tasks'),
    n_skills: positiveInteger(4, 'the number of LoRA skills'),
    n_splits: positiveInteger(1, 'the number of splits: multi-head routing when > 1'),
  },
});

/** A parsed Poly config: PEFT 0.11.1's PolyConfig with camelCase names and every default filled in. */
export type PolyConfig = ReturnType<typeof polyConfigSchema.parse>;

/** What `createPolyConfig` takes (snake_case keys work too). */
export interface PolyConfigOptions {
  r?: number;
  targetModules?: string | readonly string[] | null;
  modulesToSave?: readonly string[] | null;
  initWeights?: boolean;
  polyType?: 'poly';
  nTasks?: number;
  nSkills?: number;
  nSplits?: number;
  taskType?: TaskType | null;
  inferenceMode?: boolean;
  baseModelNameOrPath?: string | null;
  revision?: string | null;
}

/** Builds a validated Poly config, with PEFT 0.11.1's defaults for the rest. */
export function createPolyConfig(options: PolyConfigOptions = {}): PolyConfig {
  return polyConfigSchema.parse({ ...options, peft_type: POLY_PEFT_TYPE });
}
