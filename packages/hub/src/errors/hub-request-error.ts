import { PeftHubError } from './peft-hub-error';

const marker = 'peftjs.error.HubRequest';
const symbol = Symbol.for(marker);

/** Any other failed Hub call: an unexpected HTTP status, an unreachable endpoint, a bad reply. */
export class HubRequestError extends PeftHubError {
  private readonly [symbol] = true;
  readonly repoId: string;
  readonly status: number | undefined;

  constructor(options: { repoId: string; action: string; status?: number; detail: string; cause?: unknown }) {
    const status = options.status === undefined ? '' : ` (HTTP ${options.status})`;
    super(`${options.action} for repository "${options.repoId}" failed${status}: ${options.detail}`, {
      cause: options.cause,
    });
    this.name = 'HubRequestError';
    this.repoId = options.repoId;
    this.status = options.status;
  }

  static override isInstance(value: unknown): value is HubRequestError {
    return PeftHubError.hasMarker(value, marker);
  }
}
