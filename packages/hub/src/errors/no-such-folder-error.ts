import { PeftHubError } from './peft-hub-error';

const marker = 'peftjs.error.NoSuchFolder';
const symbol = Symbol.for(marker);

/** A local path that is not a folder: missing, or a file where a folder was expected. */
export class NoSuchFolderError extends PeftHubError {
  private readonly [symbol] = true;
  /** The absolute path that was looked at. */
  readonly path: string;

  constructor(options: { path: string; given: string; isFile?: boolean }) {
    const shown = options.given === options.path ? options.path : `${JSON.stringify(options.given)} (${options.path})`;
    super(options.isFile ? `${shown} is a file, not a folder` : `no such folder: ${shown}`);
    this.name = 'NoSuchFolderError';
    this.path = options.path;
  }

  static override isInstance(value: unknown): value is NoSuchFolderError {
    return PeftHubError.hasMarker(value, marker);
  }
}
