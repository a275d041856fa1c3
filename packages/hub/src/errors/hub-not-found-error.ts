import { PeftHubError } from './peft-hub-error';

const marker = 'peftjs.error.HubNotFound';
const symbol = Symbol.for(marker);

/** The Hub has no such repository, revision or file (or hides it from this token). */
export class HubNotFoundError extends PeftHubError {
  private readonly [symbol] = true;
  readonly repoId: string;
  readonly revision: string;
  readonly path: string | undefined;

  constructor(options: { repoId: string; revision: string; path?: string; endpoint?: string; cause?: unknown }) {
    const what =
      options.path === undefined
        ? `repository "${options.repoId}" at revision "${options.revision}"`
        : `file "${options.path}" in repository "${options.repoId}" at revision "${options.revision}"`;
    const where = options.endpoint === undefined ? '' : ` on ${options.endpoint}`;
    super(`${what} was not found${where}`, { cause: options.cause });
    this.name = 'HubNotFoundError';
    this.repoId = options.repoId;
    this.revision = options.revision;
    this.path = options.path;
  }

  static override isInstance(value: unknown): value is HubNotFoundError {
    return PeftHubError.hasMarker(value, marker);
  }
}
