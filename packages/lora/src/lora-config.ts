import { defineConfigSchema, fields, InvalidConfigError, type ConfigField, type ConfigOptions } from '@peftjs/core';

/** The `peft_type` LoRA adapters carry in adapter_config.json. */
export const LORA_PEFT_TYPE = 'LORA';

/** How LoRA weights start: PEFT's `init_lora_weights` (`'loftq'` is refused: it needs quantisation). */
export type LoraInit = boolean | 'gaussian' | 'pissa' | `pissa_niter_${number}`;

const PISSA_NITER = /^pissa_niter_(\d+)$/;

/** The number of subspace iterations of a `pissa_niter_<n>` init, or undefined for other inits. */
export function pissaIterations(init: LoraInit): number | undefined {
  if (typeof init !== 'string') return undefined;
  const match = PISSA_NITER.exec(init);
  return match ? Number.parseInt(match[1]!, 10) : undefined;
}

export function isPissaInit(init: LoraInit): boolean {
  return init === 'pissa' || pissaIterations(init) !== undefined;
}

const VALID_INITS = 'true, false, "gaussian", "pissa" or "pissa_niter_<n>" (n a whole number)';

function initField(): ConfigField<LoraInit> {
  return {
    // A boolean that also takes names: the CLI gives it a [bool] flag that accepts them.
    type: 'boolean',
    choices: [true, false, 'gaussian', 'pissa', 'pissa_niter_<n>'],
    defaultValue: () => true,
    parse(value, name) {
      if (value === true || value === false || value === 'gaussian' || value === 'pissa') return value;
      if (typeof value === 'string' && PISSA_NITER.test(value)) return value as LoraInit;
      if (value === 'loftq') {
        throw new InvalidConfigError(
          `config field "${name}" is "loftq", which peftjs cannot apply: LoftQ initialisation quantises the base weights (bitsandbytes + scipy in Python) and has no TensorFlow.js counterpart; initialise the adapter in Python PEFT and load the saved adapter, or use ${VALID_INITS}`,
          { field: name },
        );
      }
      if (value === 'olora') {
        throw new InvalidConfigError(`config field "${name}" is "olora", which PEFT 0.11.1 does not implement (it arrived in 0.12); use ${VALID_INITS}`, { field: name });
      }
      throw new InvalidConfigError(`config field "${name}" is ${JSON.stringify(value) ?? String(value)}; expected ${VALID_INITS}`, { field: name });
    },
    serialize: (value) => value,
  };
}

/** `layer_replication`: `[[start, end), ...]` or null. */
function layerReplicationField(): ConfigField<Array<[number, number]> | null> {
  return {
    defaultValue: () => null,
    parse(value, name) {
      if (value === null || value === undefined) return null;
      const valid =
        Array.isArray(value) &&
        value.every((range) => Array.isArray(range) && range.length === 2 && range.every((bound) => Number.isInteger(bound) && bound >= 0) && range[0] < range[1]);
      if (!valid) throw new InvalidConfigError(`config field "${name}" is ${JSON.stringify(value)}; expected a list of [start, end) layer ranges or null`, { field: name });
      return (value as Array<[number, number]>).map(([start, end]) => [start, end] as [number, number]);
    },
    serialize: (value) => (value === null ? null : value.map((range) => [...range])),
  };
}

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

function rankPatternField(): ConfigField<Record<string, number>> {
  const base = fields.numberRecord({ integer: true, min: 1 });
  return base;
}

export const loraConfigSchema = defineConfigSchema({
  peftType: LORA_PEFT_TYPE,
  fields: {
    r: positiveInteger(8),
    target_modules: fields.targets(null),
    lora_alpha: fields.number(8),
    lora_dropout: fields.number(0, { min: 0, max: 1, maxExclusive: true }),
    fan_in_fan_out: fields.boolean(false),
    bias: fields.oneOf<'none' | 'all' | 'lora_only'>('none', ['none', 'all', 'lora_only']),
    use_rslora: fields.boolean(false),
    modules_to_save: fields.nullableStringList(null),
    init_lora_weights: initField(),
    layers_to_transform: fields.layerIndices(),
    layers_pattern: fields.stringOrList(),
    rank_pattern: rankPatternField(),
    alpha_pattern: fields.numberRecord(),
    use_dora: fields.boolean(false),
    layer_replication: layerReplicationField(),
    megatron_core: fields.nullableString('megatron.core'),
  },
  refused: {
    megatron_config: {
      isDefault: (value) => value === null,
      reason: 'Megatron tensor-parallel layers (ColumnParallelLinear / RowParallelLinear) do not exist in TensorFlow.js; set it to null',
      defaultValue: null,
    },
    loftq_config: {
      isDefault: (value) => typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0,
      reason: 'LoftQ quantises the base weights (bitsandbytes + scipy in Python) and has no TensorFlow.js counterpart; set it to {}',
      defaultValue: {},
    },
  },
  help: {
    r: 'rank',
    target_modules: "list of names (a name matches a path or its last dotted segments), a regex (full match), 'all-linear', or null for the model type's defaults",
    lora_alpha: 'scaling = α/r',
    lora_dropout: "dropout on the adapter's input while training",
    fan_in_fan_out: "set to true automatically for GPT-2's Conv1D (weights stored [in, out])",
    bias: "'all' or 'lora_only' also train biases",
    use_rslora: 'scaling = α/√r',
    modules_to_save: 'layers trained in full and saved with the adapter (e.g. a classifier head)',
    init_lora_weights: "true, false (random B too), 'gaussian', 'pissa', 'pissa_niter_N' (N subspace iterations)",
    layers_to_transform: 'only these layer indices',
    layers_pattern: 'the path segment before the layer index',
    rank_pattern: 'per-module ranks, { "q_proj": 16 }',
    alpha_pattern: 'per-module alphas',
    use_dora: 'DoRA (Dense and Conv2D)',
    layer_replication: 'kept for the file; non-null values are refused (a LayersModel cannot share blocks)',
    megatron_core: 'kept for the file',
  },
});

/** A parsed LoRA config: PEFT 0.11.1's LoraConfig with camelCase names and every default filled in. */
export type LoraConfig = ReturnType<typeof loraConfigSchema.parse>;

/**
 * What `createLoraConfig` takes: any LoraConfig field in camelCase (snake_case keys work too),
 * derived from the schema; the refused PEFT fields take only their defaults.
 */
export type LoraConfigOptions = ConfigOptions<LoraConfig> & { megatronConfig?: null; loftqConfig?: Record<string, never> };

/** Builds a validated LoRA config from camelCase options, with PEFT 0.11.1's defaults for the rest. */
export function createLoraConfig(options: LoraConfigOptions = {}): LoraConfig {
  return loraConfigSchema.parse({ ...options, peft_type: LORA_PEFT_TYPE });
}
