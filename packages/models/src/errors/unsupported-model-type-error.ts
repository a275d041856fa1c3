import { PeftError } from '@peftjs/core';

const marker = 'peftjs.error.UnsupportedModelType';
const symbol = Symbol.for(marker);

/** config.json names a model_type (or a task for it) that @peftjs/models cannot build. */
export class UnsupportedModelTypeError extends PeftError {
  private readonly [symbol] = true;

  readonly modelType: string;
  readonly supported: readonly string[];

  constructor(options: { modelType: string; supported: readonly string[]; task?: string }) {
    const what = options.task ? `model_type "${options.modelType}" has no ${options.task} architecture` : `model_type "${options.modelType}" is not supported`;
    super(
      `${what}; supported: ${options.supported.length ? options.supported.join(', ') : '(none)'}. ` +
        'For another architecture, build it as a tf.LayersModel whose layer names are the transformers module paths, ' +
        'register its layer roles with registerArchitecture() from @peftjs/core, and its builder with registerModelType() from @peftjs/models.',
    );
    this.name = 'UnsupportedModelTypeError';
    this.modelType = options.modelType;
    this.supported = options.supported;
  }

  static override isInstance(error: unknown): error is UnsupportedModelTypeError {
    return PeftError.hasMarker(error, marker);
  }
}
