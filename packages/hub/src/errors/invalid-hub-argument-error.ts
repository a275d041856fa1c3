import { PeftHubError } from './peft-hub-error';

const marker = 'peftjs.error.InvalidHubArgument';
const symbol = Symbol.for(marker);

/**
 * A repository id, revision, file path or folder is not acceptable: malformed, or it would
 * escape the cache or target folder (`..`, absolute paths).
 */
export class InvalidHubArgumentError extends PeftHubError {
  private readonly [symbol] = true;
  readonly argument: string;

  constructor(options: { argument: string; message: string }) {
    super(options.message);
    this.name = 'InvalidHubArgumentError';
    this.argument = options.argument;
  }

  static override isInstance(value: unknown): value is InvalidHubArgumentError {
    return PeftHubError.hasMarker(value, marker);
  }
}
