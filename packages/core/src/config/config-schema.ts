import { InvalidConfigError } from '../errors';
import { camelToSnake, snakeToCamel } from '../util/strings';
import { warn } from '../util/warn';
import { fields, type ConfigField, type ConfigFieldType } from './config-fields';

export const TASK_TYPES = ['SEQ_CLS', 'SEQ_2_SEQ_LM', 'CAUSAL_LM', 'TOKEN_CLS', 'QUESTION_ANS', 'FEATURE_EXTRACTION'] as const;
export type TaskType = (typeof TASK_TYPES)[number];

type CamelCase<S extends string> = S extends `${infer Head}_${infer Tail}` ? `${Head}${Capitalize<CamelCase<Tail>>}` : S;
type FieldValue<F> = F extends ConfigField<infer T> ? T : never;
export type ConfigFields = Record<string, ConfigField<any>>;
export type TypedFields<F extends ConfigFields> = { [K in keyof F as CamelCase<K & string>]: FieldValue<F[K]> };

/** The fields every PEFT config has (PeftConfig in Python). */
export interface PeftConfig {
  peftType: string;
  taskType: TaskType | null;
  inferenceMode: boolean;
  baseModelNameOrPath: string | null;
  revision: string | null;
  autoMapping: Record<string, unknown> | null;
  /** Keys a loaded config had that this version does not know: kept, written back, never used. */
  extraFields?: Record<string, unknown>;
}

const baseFields = {
  task_type: fields.oneOf<TaskType | null>(null, [...TASK_TYPES, null]),
  inference_mode: fields.boolean(false),
  base_model_name_or_path: fields.nullableString(null),
  revision: fields.nullableString(null),
  auto_mapping: fields.json<Record<string, unknown> | null>(null),
};

const BASE_HELP: Record<string, string> = {
  task_type: 'the task the adapter was trained for (CAUSAL_LM, SEQ_CLS, SEQ_2_SEQ_LM, ...)',
  inference_mode: 'true when the adapter is loaded for inference only (nothing trains)',
  base_model_name_or_path: 'the base model the adapter was trained on',
  revision: 'the base model revision',
  auto_mapping: "the classes PEFT's AutoPeftModel uses",
};

/** One config field described as data: what help, the docs' option tables and the CLI's flags are made from. */
export interface ConfigFieldInfo {
  /** The snake_case key of adapter_config.json (`target_modules`). */
  readonly name: string;
  /** The camelCase property of the TypeScript config (`targetModules`). */
  readonly property: string;
  readonly type: ConfigFieldType;
  /** The default as adapter_config.json writes it (null for a required field). */
  readonly defaultValue: unknown;
  readonly choices?: readonly unknown[];
  /** The method needs a value although PEFT's default is null. */
  readonly required: boolean;
  readonly help: string;
  /** One of the fields every PEFT config has (task_type, inference_mode, ...), set by the caller rather than the method. */
  readonly common: boolean;
  /** A PEFT field peftjs keeps for the file but refuses non-default values of. */
  readonly refused: boolean;
}

type DeepReadonly<T> = T extends (infer Item)[] ? ReadonlyArray<DeepReadonly<Item>> : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/**
 * What a method's `createXConfig(options)` takes, derived from its parsed config type: every field
 * optional, in camelCase (snake_case keys are accepted at run time too), arrays read-only.
 */
export type ConfigOptions<C extends PeftConfig> = { [K in keyof Omit<C, 'peftType' | 'extraFields'>]?: DeepReadonly<C[K]> };

export interface ConfigSchemaOptions<F extends ConfigFields> {
  peftType: string;
  fields: F;
  /** Fields PEFT has that cannot apply here: refused (with the reason) when set to a non-default value. */
  refused?: Record<string, { isDefault: (value: unknown) => boolean; reason: string; defaultValue: unknown }>;
  /** Cross-field checks on the parsed config. */
  check?: (config: PeftConfig & TypedFields<F>) => void;
  /** One line of help per field (snake_case key), for help, docs and the CLI; a field's own `help` wins. */
  help?: Readonly<Record<string, string>>;
  /** Fields the method needs a value for although their default is null. */
  required?: readonly string[];
}

export interface ConfigSchema<C extends PeftConfig> {
  readonly peftType: string;
  /** Snake_case JSON (or camelCase options) in, a validated config with every default filled out. */
  parse(raw: unknown): C;
  /** The JSON object Python PEFT writes for this config: every key, snake_case. */
  serialize(config: C): Record<string, unknown>;
  /** Every field described as data, common ones first (optional in the interface: schemas made by hand may lack it). */
  readonly fields?: readonly ConfigFieldInfo[];
}

/**
 * Builds the parse/serialize pair of a method's config from field definitions, so that every
 * method reads and writes PEFT's keys the same way: snake_case on disk, camelCase in TypeScript,
 * unknown keys warned about and kept.
 */
export function defineConfigSchema<F extends ConfigFields>(options: ConfigSchemaOptions<F>): ConfigSchema<PeftConfig & TypedFields<F>> {
  type Config = PeftConfig & TypedFields<F>;
  const allFields: ConfigFields = { ...baseFields, ...options.fields };
  const refused = options.refused ?? {};
  const camelOf = new Map<string, string>();
  for (const key of [...Object.keys(allFields), ...Object.keys(refused)]) camelOf.set(key, snakeToCamel(key));
  const required = new Set(options.required ?? []);
  const describedFields: ConfigFieldInfo[] = [
    ...Object.entries(allFields).map(([name, definition]): ConfigFieldInfo => {
      const isRequired = definition.required === true || required.has(name);
      return {
        name,
        property: camelOf.get(name)!,
        type: definition.type ?? 'json',
        defaultValue: isRequired ? null : definition.serialize(definition.defaultValue()),
        ...(definition.choices ? { choices: definition.choices } : {}),
        required: isRequired,
        help: definition.help ?? options.help?.[name] ?? BASE_HELP[name] ?? '',
        common: name in baseFields,
        refused: false,
      };
    }),
    ...Object.entries(refused).map(
      ([name, rule]): ConfigFieldInfo => ({
        name,
        property: camelOf.get(name)!,
        type: 'json',
        defaultValue: structuredClone(rule.defaultValue),
        required: false,
        help: options.help?.[name] ?? `kept for the file; peftjs refuses other values: ${rule.reason}`,
        common: false,
        refused: true,
      }),
    ),
  ];

  return {
    peftType: options.peftType,
    fields: describedFields,
    parse(raw: unknown): Config {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
        throw new InvalidConfigError(`a ${options.peftType} config must be an object; got ${JSON.stringify(raw) ?? String(raw)}`);
      }
      const input: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(raw)) {
        if (value === undefined || key === 'extraFields') continue;
        const snake = key in allFields || key in refused || key === 'peft_type' ? key : camelToSnake(key);
        input[snake] = value;
      }
      const peftType = input.peft_type;
      if (peftType !== undefined && peftType !== options.peftType) {
        throw new InvalidConfigError(`config has peft_type ${JSON.stringify(peftType)} but was given to the ${options.peftType} config parser`, { field: 'peft_type' });
      }
      const config: Record<string, unknown> = { peftType: options.peftType };
      for (const [key, definition] of Object.entries(allFields)) {
        config[camelOf.get(key)!] = key in input ? definition.parse(input[key], key) : definition.defaultValue();
      }
      for (const [key, rule] of Object.entries(refused)) {
        if (key in input && !rule.isDefault(input[key])) {
          throw new InvalidConfigError(`config field "${key}" is ${JSON.stringify(input[key])}, which peftjs cannot apply: ${rule.reason}`, { field: key });
        }
      }
      const extras: Record<string, unknown> = { ...((raw as { extraFields?: Record<string, unknown> }).extraFields ?? {}) };
      for (const [key, value] of Object.entries(input)) {
        if (key === 'peft_type' || key in allFields || key in refused) continue;
        extras[key] = value;
      }
      const unknown = Object.keys(extras).filter((key) => !(key in ((raw as { extraFields?: object }).extraFields ?? {})));
      if (unknown.length > 0) {
        warn(`${options.peftType} config has keys this version does not know: ${unknown.join(', ')}; they are kept and written back, but not used`);
      }
      if (Object.keys(extras).length > 0) config.extraFields = extras;
      options.check?.(config as Config);
      return config as Config;
    },
    serialize(config: Config): Record<string, unknown> {
      const output: Record<string, unknown> = { ...(config.extraFields ?? {}) };
      for (const [key, definition] of Object.entries(allFields)) {
        output[key] = definition.serialize((config as Record<string, unknown>)[camelOf.get(key)!]);
      }
      for (const [key, rule] of Object.entries(refused)) output[key] = structuredClone(rule.defaultValue);
      output.peft_type = options.peftType;
      return output;
    },
  };
}

/** JSON text as Python's `json.dumps(obj, indent=2, sort_keys=True)` lays it out. */
export function toPythonJson(value: unknown): string {
  const sort = (item: unknown): unknown => {
    if (Array.isArray(item)) return item.map(sort);
    if (item && typeof item === 'object') {
      return Object.fromEntries(
        Object.keys(item)
          .sort()
          .map((key) => [key, sort((item as Record<string, unknown>)[key])]),
      );
    }
    return item;
  };
  // Python escapes every non-ASCII character (ensure_ascii=True).
  return JSON.stringify(sort(value), null, 2).replace(/[\u0080-\uffff]/g, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
