import { PeftHubError } from './peft-hub-error';

const marker = 'peftjs.error.SafetensorsFormat';
const symbol = Symbol.for(marker);

/** What was wrong with a safetensors file (or a sharded checkpoint index). */
export type SafetensorsFormatProblem =
  | 'truncated'
  | 'header-too-large'
  | 'invalid-utf8'
  | 'invalid-json'
  | 'duplicate-key'
  | 'invalid-metadata'
  | 'invalid-entry'
  | 'unknown-dtype'
  | 'unsupported-dtype'
  | 'invalid-shape'
  | 'invalid-offsets'
  | 'size-mismatch'
  | 'trailing-bytes'
  | 'value-out-of-range'
  | 'tensor-not-found'
  | 'invalid-index';

/**
 * A safetensors file (or a `model.safetensors.index.json`) is malformed, or asks for something
 * this reader cannot represent (an int64 value outside the int32 range). The message names the
 * tensor and the problem; `tensorName` is set when one tensor is at fault.
 */
export class SafetensorsFormatError extends PeftHubError {
  private readonly [symbol] = true;
  readonly problem: SafetensorsFormatProblem;
  readonly tensorName: string | undefined;
  readonly source: string | undefined;

  constructor(options: {
    problem: SafetensorsFormatProblem;
    message: string;
    tensorName?: string;
    source?: string;
    cause?: unknown;
  }) {
    const where = options.source === undefined ? '' : ` (${options.source})`;
    super(`${options.message}${where}`, { cause: options.cause });
    this.name = 'SafetensorsFormatError';
    this.problem = options.problem;
    this.tensorName = options.tensorName;
    this.source = options.source;
  }

  static override isInstance(value: unknown): value is SafetensorsFormatError {
    return PeftHubError.hasMarker(value, marker);
  }
}
