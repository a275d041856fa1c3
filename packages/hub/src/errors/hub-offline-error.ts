import { PeftHubError } from './peft-hub-error';

const marker = 'peftjs.error.HubOffline';
const symbol = Symbol.for(marker);

/**
 * Offline mode (`HF_HUB_OFFLINE=1` or `offline: true`) was asked for, and the cache does not hold
 * what the call needs. `missing` lists what is absent: a revision reference or file paths.
 */
export class HubOfflineError extends PeftHubError {
  private readonly [symbol] = true;
  readonly repoId: string;
  readonly revision: string;
  readonly missing: readonly string[];

  constructor(options: { repoId: string; revision: string; missing: readonly string[]; cacheDir: string }) {
    super(
      `offline mode: repository "${options.repoId}" at revision "${options.revision}" is not fully in the cache ` +
        `${options.cacheDir}; missing: ${options.missing.join(', ')}. ` +
        'Download it once while online, or unset HF_HUB_OFFLINE.',
    );
    this.name = 'HubOfflineError';
    this.repoId = options.repoId;
    this.revision = options.revision;
    this.missing = options.missing;
  }

  static override isInstance(value: unknown): value is HubOfflineError {
    return PeftHubError.hasMarker(value, marker);
  }
}
