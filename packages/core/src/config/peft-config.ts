import { InvalidConfigError } from '../errors';
import { getTuner } from '../registry/tuner-registry';
import type { PeftConfig } from './config-schema';

/**
 * The `peft_type` of a raw config (snake_case JSON or camelCase options): the one place that reads
 * it before a tuner is chosen. The tuner's schema then checks that it matches.
 */
export function peftTypeOf(raw: unknown): string {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InvalidConfigError(`an adapter config must be a JSON object; got ${JSON.stringify(raw) ?? String(raw)}`);
  }
  const peftType = (raw as { peft_type?: unknown }).peft_type ?? (raw as { peftType?: unknown }).peftType;
  if (typeof peftType !== 'string') {
    throw new InvalidConfigError('the config has no "peft_type"; build it with a method package\'s config factory or set peft_type', { field: 'peft_type' });
  }
  return peftType;
}

/** Any method's config from adapter_config.json: `peft_type` picks the registered tuner. */
export function parsePeftConfig(raw: unknown, options: { packageName?: string } = {}): PeftConfig {
  return getTuner(peftTypeOf(raw), options).parseConfig(raw);
}

/** The JSON object Python PEFT writes for a config (every key, snake_case). */
export function serializePeftConfig(config: PeftConfig): Record<string, unknown> {
  return getTuner(config.peftType).serializeConfig(config);
}
