import { PeftHubError } from './peft-hub-error';

const marker = 'peftjs.error.HubUnreachable';
const symbol = Symbol.for(marker);

/** The Hub could not be reached at all (no network, DNS failure, refused connection): no HTTP answer. */
export class HubUnreachableError extends PeftHubError {
  private readonly [symbol] = true;
  readonly repoId: string;
  readonly endpoint: string;
  /** What the network layer said (DNS failure, refused connection, ...). */
  readonly detail: string;

  constructor(options: { repoId: string; endpoint: string; detail: string; localPath?: string; cause?: unknown }) {
    const local = options.localPath === undefined ? '' : `; there is no local folder ${options.localPath} either`;
    super(
      `cannot reach the Hub at ${options.endpoint} to fetch "${options.repoId}" (${options.detail})${local}; ` +
        'give a local folder, or set HF_HUB_OFFLINE=1 to use only what is already in the cache',
      { cause: options.cause },
    );
    this.name = 'HubUnreachableError';
    this.repoId = options.repoId;
    this.endpoint = options.endpoint;
    this.detail = options.detail;
  }

  static override isInstance(value: unknown): value is HubUnreachableError {
    return PeftHubError.hasMarker(value, marker);
  }
}
