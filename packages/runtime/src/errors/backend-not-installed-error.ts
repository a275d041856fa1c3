import { PeftRuntimeError } from './peft-runtime-error';

const marker = 'peftjs.error.BackendNotInstalled';
const symbol = Symbol.for(marker);

/**
 * The backend that was asked for needs an npm package that is not installed.
 * `packageNames` lists what would provide it, best first; installing any one is enough.
 */
export class BackendNotInstalledError extends PeftRuntimeError {
  private readonly [symbol] = true;
  readonly backend: string;
  readonly packageNames: readonly string[];

  constructor(options: { backend: string; packageNames: readonly string[]; cause?: unknown }) {
    const [first, ...rest] = options.packageNames;
    const alternatives = rest.length === 0 ? '' : ` (or ${rest.join(', or ')})`;
    super(`backend "${options.backend}" is not installed: run \`npm install ${first}\`${alternatives}`, { cause: options.cause });
    this.name = 'BackendNotInstalledError';
    this.backend = options.backend;
    this.packageNames = options.packageNames;
  }

  static override isInstance(value: unknown): value is BackendNotInstalledError {
    return PeftRuntimeError.hasMarker(value, marker);
  }
}
