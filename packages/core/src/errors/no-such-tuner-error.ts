import { PeftError } from './peft-error';

const marker = 'peftjs.error.NoSuchTuner';
const symbol = Symbol.for(marker);

/** No tuner is registered under a PEFT type; names the package that provides it when known. */
export class NoSuchTunerError extends PeftError {
  private readonly [symbol] = true;

  readonly peftType: string;

  constructor(options: { peftType: string; registered: readonly string[]; packageName?: string }) {
    const install = options.packageName ? ` Install and register ${options.packageName}: registerTuner(...) from it.` : '';
    super(`no tuner is registered for peft_type "${options.peftType}"; registered: ${options.registered.length ? options.registered.join(', ') : '(none)'}.${install}`);
    this.name = 'NoSuchTunerError';
    this.peftType = options.peftType;
  }

  static override isInstance(error: unknown): error is NoSuchTunerError {
    return PeftError.hasMarker(error, marker);
  }
}
