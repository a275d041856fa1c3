import * as tf from '@tensorflow/tfjs-core';
import { LayerVariable } from '@tensorflow/tfjs-layers';
import { AdapterStateError, currentForwardContext, InvalidConfigError, permutedParam, TunerLayer, type ParamRef, type TunerLayerArgs, type VariableUpdate } from '@peftjs/core';
import { findBias, findWeight, layerActivation, matMulLastAxis } from './base-layer';
import { VERA_PEFT_TYPE } from './vera-config';
import { VeraProjections } from './vera-projections';

type Kwargs = Record<string, unknown>;

/** What one VeRA adapter of one layer is created from (also what the layer's getConfig() stores). */
export interface VeraAdapterOptions {
  r: number;
  projectionPrngKey: number;
  saveProjection: boolean;
  veraDropout: number;
  dInitial: number;
  initWeights: boolean;
}

function namedVariable(value: tf.Tensor, name: string): LayerVariable {
  const variable = new LayerVariable(value, 'float32', name, true);
  if (variable.originalName !== name) (variable as { originalName: string }).originalName = name;
  return variable;
}

/**
 * VeRA on a linear layer (Dense, or GPT-2's Conv1D — both keep a `[in, out]` kernel in tfjs):
 * y = base(x) + λ_b ⊙ ((λ_d ⊙ (x·Aᵀ))·Bᵀ), with A `[r, in]` and B `[out, r]` frozen and shared by
 * all layers of the adapter, λ_d `[r]` and λ_b `[out]` trained. Merging adds
 * (λ_b·B)·(λ_d·A) to the weight.
 */
export class VeraDense extends TunerLayer {
  static className = 'VeraDense';
  readonly peftType = VERA_PEFT_TYPE;
  private readonly lambdas = new Map<string, { b: LayerVariable; d: LayerVariable }>();
  private readonly projections = new Map<string, VeraProjections>();
  private pendingProjections: VeraProjections | undefined;

  constructor(args: TunerLayerArgs) {
    super(args);
  }

  get kernel(): LayerVariable {
    const kernel = findWeight(this.baseLayer, 'kernel') ?? this.baseLayer.weights.find((variable) => variable.shape.length === 2);
    if (kernel?.shape.length !== 2) throw new AdapterStateError(`layer "${this.name}" (${this.baseLayer.getClassName()}) has no 2-D kernel; build it before adapting it`);
    return kernel;
  }

  get inFeatures(): number {
    return this.kernel.shape[0]!;
  }

  get outFeatures(): number {
    return this.kernel.shape[1]!;
  }

  /** Adds an adapter that uses `projections` (shared with the adapter's other layers). */
  addSharedAdapter(adapterName: string, options: VeraAdapterOptions, projections: VeraProjections): void {
    this.pendingProjections = projections;
    try {
      this.addAdapter(adapterName, options);
    } finally {
      this.pendingProjections = undefined;
    }
  }

  /** The shared pair an adapter uses. */
  projectionsOf(adapterName: string): VeraProjections {
    this.assertAdapter(adapterName);
    return this.projections.get(adapterName)!;
  }

  protected createAdapter(adapterName: string, rawOptions: unknown): Map<string, ParamRef> {
    const options = rawOptions as VeraAdapterOptions;
    if (!Number.isInteger(options.r) || options.r <= 0) {
      throw new InvalidConfigError(`\`r\` should be a positive integer value but the value passed is ${options.r} (layer "${this.name}")`, { field: 'r' });
    }
    // A layer rebuilt from its config regenerates the pair from the key (bit-exact with torch).
    const projections = this.pendingProjections ?? new VeraProjections(options.r, this.inFeatures, this.outFeatures, options.projectionPrngKey);
    if (projections.inFeatures !== this.inFeatures || projections.outFeatures !== this.outFeatures || projections.r !== options.r) {
      throw new InvalidConfigError(
        `Multiple target layers with different dimensions were specified. VeRA only supports a single dimension size. Expected shape (${projections.outFeatures}, ${projections.inFeatures}), got (${this.outFeatures}, ${this.inFeatures}) for layer "${this.name}".`,
        { field: 'target_modules' },
      );
    }
    const [bValue, dValue] = options.initWeights
      ? [tf.zeros([this.outFeatures]), tf.fill([options.r], options.dInitial)]
      : [tf.ones([this.outFeatures]), tf.randomNormal([options.r])];
    const b = namedVariable(bValue!, `${this.name}/vera_lambda_b.${adapterName}`);
    const d = namedVariable(dValue!, `${this.name}/vera_lambda_d.${adapterName}`);
    tf.dispose([bValue!, dValue!]);
    projections.hold();
    this.projections.set(adapterName, projections);
    this.lambdas.set(adapterName, { b, d });
    return new Map([
      [`vera_lambda_b.${adapterName}`, permutedParam(b)],
      [`vera_lambda_d.${adapterName}`, permutedParam(d)],
    ]);
  }

  protected override onAdapterDeleted(adapterName: string): void {
    this.projections.get(adapterName)?.release();
    this.projections.delete(adapterName);
    this.lambdas.delete(adapterName);
  }

  private delta(inputs: tf.Tensor, adapterName: string): tf.Tensor {
    const { b, d } = this.lambdas.get(adapterName)!;
    const projections = this.projections.get(adapterName)!;
    const hidden = tf.mul(matMulLastAxis(inputs, tf.transpose(projections.a)), d.read());
    return tf.mul(matMulLastAxis(hidden, tf.transpose(projections.b)), b.read());
  }

  protected adaptedCall(inputs: tf.Tensor, kwargs: Kwargs): tf.Tensor {
    if (currentForwardContext()?.adapterNames) {
      throw new AdapterStateError(`VeRA layer "${this.name}" cannot run a mixed-adapter batch (adapterNames); PEFT 0.11.1 supports those for LoRA only`);
    }
    const training = kwargs.training === true;
    const activation = layerActivation(this.baseLayer);
    let result: tf.Tensor;
    if (activation) {
      const bias = findBias(this.baseLayer);
      result = matMulLastAxis(inputs, this.kernel.read());
      if (bias) result = tf.add(result, bias.read());
    } else {
      result = this.baseLayer.call(inputs, kwargs) as tf.Tensor;
    }
    for (const name of this.activeAdapterNames) {
      const { veraDropout } = this.getAdapterOptions<VeraAdapterOptions>(name);
      const dropped = training && veraDropout > 0 ? tf.dropout(inputs, veraDropout) : inputs;
      result = tf.add(result, this.delta(dropped, name));
    }
    return activation ? activation(result) : result;
  }

  /** (λ_b·B)·(λ_d·A) transposed to the kernel's `[in, out]` layout (PEFT's get_delta_weight). The caller disposes it. */
  deltaKernel(adapterName: string): tf.Tensor2D {
    this.assertAdapter(adapterName);
    return tf.tidy(() => {
      const { b, d } = this.lambdas.get(adapterName)!;
      const projections = this.projections.get(adapterName)!;
      const scaledA = tf.mul(projections.a, tf.reshape(d.read(), [-1, 1]));
      const scaledB = tf.mul(projections.b, tf.reshape(b.read(), [-1, 1]));
      return tf.transpose(tf.matMul(scaledB, scaledA)) as tf.Tensor2D;
    });
  }

  protected mergeUpdates(adapterName: string): VariableUpdate[] {
    const kernel = this.kernel;
    return [{ variable: kernel, value: tf.tidy(() => tf.add(kernel.read(), this.deltaKernel(adapterName))) }];
  }

  protected unmergeUpdates(adapterName: string): VariableUpdate[] {
    const kernel = this.kernel;
    return [{ variable: kernel, value: tf.tidy(() => tf.sub(kernel.read(), this.deltaKernel(adapterName))) }];
  }

  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return TunerLayer.fromTunerConfig((args) => new VeraDense(args), config) as unknown as T;
  }
}
