import { defineConfigSchema, fields, InvalidConfigError, warn, type ConfigField, type TaskType } from '@peftjs/core';

/** The `peft_type` VeRA adapters carry in adapter_config.json. */
export const VERA_PEFT_TYPE = 'VERA';

function positiveInteger(defaultValue: number): ConfigField<number> {
  const base = fields.integer(defaultValue);
  return {
    ...base,
    parse(value, name) {
      const parsed = base.parse(value, name);
      if (parsed <= 0) throw new InvalidConfigError(`config field "${name}" is ${parsed}; expected a positive integer (\`r\` should be a positive integer value)`, { field: name });
      return parsed;
    },
  };
}

/** VeraConfig of PEFT 0.11.1: every field and default. */
export const veraConfigSchema = defineConfigSchema({
  peftType: VERA_PEFT_TYPE,
  fields: {
    r: positiveInteger(256),
    target_modules: fields.targets(null),
    projection_prng_key: fields.integer(0),
    save_projection: fields.boolean(true),
    vera_dropout: fields.number(0, { min: 0, max: 1, maxExclusive: true }),
    d_initial: fields.number(0.1),
    fan_in_fan_out: fields.boolean(false),
    bias: fields.oneOf<'none' | 'all' | 'vera_only'>('none', ['none', 'all', 'vera_only']),
    modules_to_save: fields.nullableStringList(null),
    init_weights: fields.boolean(true),
    layers_to_transform: fields.layerIndices(),
    layers_pattern: fields.stringOrList(),
  },
  check(config) {
    if (!config.saveProjection) {
      warn(
        'Specified to not save vera_A and vera_B within the state dictionary, instead they will be restored using the PRNG key store in `config.projection_prng_key`. ' +
          'peftjs regenerates them bit for bit as torch does on the CPU.',
      );
    }
  },
});

/** A parsed VeRA config: PEFT 0.11.1's VeraConfig with camelCase names and every default filled in. */
export type VeraConfig = ReturnType<typeof veraConfigSchema.parse>;

/** What `createVeraConfig` takes: any VeraConfig field in camelCase (snake_case keys work too). */
export interface VeraConfigOptions {
  r?: number;
  targetModules?: string | readonly string[] | null;
  projectionPrngKey?: number;
  saveProjection?: boolean;
  veraDropout?: number;
  dInitial?: number;
  fanInFanOut?: boolean;
  bias?: 'none' | 'all' | 'vera_only';
  modulesToSave?: readonly string[] | null;
  initWeights?: boolean;
  layersToTransform?: number | readonly number[] | null;
  layersPattern?: string | readonly string[] | null;
  taskType?: TaskType | null;
  inferenceMode?: boolean;
  baseModelNameOrPath?: string | null;
  revision?: string | null;
}

/** Builds a validated VeRA config from camelCase options, with PEFT 0.11.1's defaults for the rest. */
export function createVeraConfig(options: VeraConfigOptions = {}): VeraConfig {
  return veraConfigSchema.parse({ ...options, peft_type: VERA_PEFT_TYPE });
}
