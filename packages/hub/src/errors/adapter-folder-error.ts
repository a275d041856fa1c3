import { PeftHubError } from './peft-hub-error';

const marker = 'peftjs.error.AdapterFolder';
const symbol = Symbol.for(marker);

/**
 * An adapter folder lacks a file PEFT writes (`adapter_config.json`, `adapter_model.safetensors`),
 * has only the pickle format (`adapter_model.bin`, which peftjs does not read), or its config is
 * not a JSON object.
 */
export class AdapterFolderError extends PeftHubError {
  private readonly [symbol] = true;
  readonly folder: string;
  readonly file: string | undefined;

  constructor(options: { folder: string; file?: string; message: string; cause?: unknown }) {
    super(options.message, { cause: options.cause });
    this.name = 'AdapterFolderError';
    this.folder = options.folder;
    this.file = options.file;
  }

  static override isInstance(error: unknown): error is AdapterFolderError {
    return PeftHubError.hasMarker(error, marker);
  }
}
