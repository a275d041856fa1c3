import { defineConfigSchema, fields, InvalidConfigError, type ConfigField, type TaskType } from '@peftjs/core';

/** The `peft_type` BOFT adapters carry in adapter_config.json. */
export const BOFT_PEFT_TYPE = 'BOFT';

function nonNegativeInteger(defaultValue: number): ConfigField<number> {
  return fields.integer(defaultValue, { min: 0 });
}

function positiveInteger(defaultValue: number): ConfigField<number> {
  return fields.integer(defaultValue, { min: 1 });
}

/** BOFTConfig of PEFT 0.11.1: every field and default. */
export const boftConfigSchema = defineConfigSchema({
  peftType: BOFT_PEFT_TYPE,
  fields: {
    boft_block_size: nonNegativeInteger(4),
    boft_block_num: nonNegativeInteger(0),
    boft_n_butterfly_factor: positiveInteger(1),
    target_modules: fields.targets(null),
    boft_dropout: fields.number(0, { min: 0, max: 1 }),
    fan_in_fan_out: fields.boolean(false),
    bias: fields.oneOf<'none' | 'all' | 'boft_only'>('none', ['none', 'all', 'boft_only']),
    modules_to_save: fields.nullableStringList(null),
    init_weights: fields.boolean(true),
    layers_to_transform: fields.layerIndices(),
    layers_pattern: fields.stringOrList(),
  },
  check(config) {
    // BOFTConfig.__post_init__: exactly one of block size and block number.
    if (config.boftBlockSize === 0 && config.boftBlockNum === 0) {
      throw new InvalidConfigError('You must specify either boft_block_size or boft_block_num (both are 0).', { field: 'boft_block_size' });
    }
    if (config.boftBlockSize !== 0 && config.boftBlockNum !== 0) {
      throw new InvalidConfigError(
        `You can only specify either boft_block_size (${config.boftBlockSize}) or boft_block_num (${config.boftBlockNum}), but not both simultaneously, because boft_block_size x boft_block_num != in_features; set the other to 0.`,
        { field: 'boft_block_num' },
      );
    }
  },
});

/** A parsed BOFT config: PEFT 0.11.1's BOFTConfig with camelCase names and every default filled in. */
export type BoftConfig = ReturnType<typeof boftConfigSchema.parse>;

/** What `createBoftConfig` takes: any BOFTConfig field in camelCase (snake_case keys work too). */
export interface BoftConfigOptions {
  boftBlockSize?: number;
  boftBlockNum?: number;
  boftNButterflyFactor?: number;
  targetModules?: string | readonly string[] | null;
  boftDropout?: number;
  fanInFanOut?: boolean;
  bias?: 'none' | 'all' | 'boft_only';
  modulesToSave?: readonly string[] | null;
  initWeights?: boolean;
  layersToTransform?: number | readonly number[] | null;
  layersPattern?: string | readonly string[] | null;
  taskType?: TaskType | null;
  inferenceMode?: boolean;
  baseModelNameOrPath?: string | null;
  revision?: string | null;
}

/** Builds a validated BOFT config from camelCase options, with PEFT 0.11.1's defaults for the rest. */
export function createBoftConfig(options: BoftConfigOptions = {}): BoftConfig {
  return boftConfigSchema.parse({ ...options, peft_type: BOFT_PEFT_TYPE });
}
