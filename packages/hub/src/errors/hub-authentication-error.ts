import { PeftHubError } from './peft-hub-error';

const marker = 'peftjs.error.HubAuthentication';
const symbol = Symbol.for(marker);

/**
 * The Hub refused the request's credentials (HTTP 401/403), or the token is malformed.
 * The token itself never appears in the message.
 */
export class HubAuthenticationError extends PeftHubError {
  private readonly [symbol] = true;
  readonly repoId: string;
  readonly status: number | undefined;

  constructor(options: { repoId: string; status?: number; hadToken: boolean; detail?: string; cause?: unknown }) {
    const status = options.status === undefined ? '' : ` (HTTP ${options.status})`;
    const hint = options.hadToken ? 'the token was refused; check that it is valid and has access to this repository' : 'no token was given; pass `token` or set HF_TOKEN';
    const detail = options.detail === undefined ? '' : `: ${options.detail}`;
    super(`access to repository "${options.repoId}" was denied${status}${detail}; ${hint}`, { cause: options.cause });
    this.name = 'HubAuthenticationError';
    this.repoId = options.repoId;
    this.status = options.status;
  }

  static override isInstance(value: unknown): value is HubAuthenticationError {
    return PeftHubError.hasMarker(value, marker);
  }
}
