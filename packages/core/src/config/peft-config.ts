import { InvalidConfigError } from '../errors';
import { getTuner } from '../registry/tuner-registry';
import type { PeftConfig } from './config-schema';

/** Any method's config from adapter_config.json: `peft_type` picks the registered tuner. */
export function parsePeftConfig(raw: unknown, options: { packageName?: string } = {}): PeftConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InvalidConfigError(`an adapter config must be a JSON object; got ${JSON.stringify(raw) ?? String(raw)}`);
  }
  const peftType = (raw as { peft_type?: unknown; peftType?: unknown }).peft_type ?? (raw as { peftType?: unknown }).peftType;
  if (typeof peftType !== 'string') throw new InvalidConfigError('the adapter config has no "peft_type"', { field: 'peft_type' });
  return getTuner(peftType, options).parseConfig(raw);
}

/** The JSON object Python PEFT writes for a config (every key, snake_case). */
export function serializePeftConfig(config: PeftConfig): Record<string, unknown> {
  return getTuner(config.peftType).serializeConfig(config);
}
