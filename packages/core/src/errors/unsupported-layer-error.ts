import { PeftError } from './peft-error';

const marker = 'peftjs.error.UnsupportedLayer';
const symbol = Symbol.for(marker);

/** A targeted layer is of a class the tuner cannot adapt. */
export class UnsupportedLayerError extends PeftError {
  private readonly [symbol] = true;

  readonly layerPath: string;

  constructor(options: { layerPath: string; className: string; peftType: string; supported: readonly string[] }) {
    super(`layer "${options.layerPath}" is a ${options.className}, which ${options.peftType} cannot adapt; supported layer classes: ${options.supported.join(', ')}`);
    this.name = 'UnsupportedLayerError';
    this.layerPath = options.layerPath;
  }

  static override isInstance(error: unknown): error is UnsupportedLayerError {
    return PeftError.hasMarker(error, marker);
  }
}
