import { PeftHubError } from './peft-hub-error';

const marker = 'peftjs.error.HubDownload';
const symbol = Symbol.for(marker);

/**
 * A file transfer failed: the connection dropped, or the bytes received do not match the size or
 * hash the Hub announced. Nothing was added to the cache; retrying is safe.
 */
export class HubDownloadError extends PeftHubError {
  private readonly [symbol] = true;
  readonly repoId: string;
  readonly revision: string;
  readonly path: string;

  constructor(options: { repoId: string; revision: string; path: string; reason: string; cause?: unknown }) {
    super(`downloading "${options.path}" from repository "${options.repoId}" at revision "${options.revision}" failed: ${options.reason}`, { cause: options.cause });
    this.name = 'HubDownloadError';
    this.repoId = options.repoId;
    this.revision = options.revision;
    this.path = options.path;
  }

  static override isInstance(value: unknown): value is HubDownloadError {
    return PeftHubError.hasMarker(value, marker);
  }
}
