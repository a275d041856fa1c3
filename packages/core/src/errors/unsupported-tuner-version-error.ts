import { PeftError } from './peft-error';

const marker = 'peftjs.error.UnsupportedTunerVersion';
const symbol = Symbol.for(marker);

/** A tuner declares a specificationVersion this core does not implement. */
export class UnsupportedTunerVersionError extends PeftError {
  private readonly [symbol] = true;

  constructor(options: { peftType: string; version: unknown; supported: readonly string[] }) {
    super(`tuner "${options.peftType}" implements specificationVersion ${JSON.stringify(options.version)}; this @peftjs/core supports: ${options.supported.join(', ')}`);
    this.name = 'UnsupportedTunerVersionError';
  }

  static override isInstance(error: unknown): error is UnsupportedTunerVersionError {
    return PeftError.hasMarker(error, marker);
  }
}
