import * as tf from '@tensorflow/tfjs-core';
import { LayerVariable, type layers } from '@tensorflow/tfjs-layers';
import { AdapterStateError, currentForwardContext, InvalidConfigError, permutedParam, TunerLayer, type ParamRef, type TunerLayerArgs, type VariableUpdate } from '@peftjs/core';
import { convSettings, findBias, innermostLayer, layerActivation, matMulLastAxis, requireKernel } from './base-layer';
import { OFT_PEFT_TYPE } from './oft-config';
import { InferenceCache } from './inference-cache';
import { batchedInverse, blockDiagonal, cayleyBatch } from './orthogonal-matrices';

type Kwargs = Record<string, unknown>;

/** What one OFT adapter of one layer is created from (also what the layer's getConfig() stores). */
export interface OftAdapterOptions {
  /** The number of diagonal blocks. */
  r: number;
  moduleDropout: number;
  initWeights: boolean;
  coft: boolean;
  eps: number;
  blockShare: boolean;
}

/** A LayerVariable whose saved name stays `<layer>/<local>` however tfjs scopes it. */
function namedVariable(value: tf.Tensor, name: string): LayerVariable {
  const variable = new LayerVariable(value, 'float32', name, true);
  if (variable.originalName !== name) (variable as { originalName: string }).originalName = name;
  return variable;
}

/**
 * OFT as PEFT 0.11.1 computes it: each adapter holds `oft_r` `[r, n, n]` (`[1, n, n]` with
 * block_share), n = ceil(out / r); its Cayley transforms are the blocks of a block-diagonal
 * rotation R, cut to `[out, out]`, that turns the layer's output before the bias is added:
 * y = (x·W)·R + b. Merging writes W·R (torch: Rᵀ·W); unmerging multiplies by R⁻¹.
 *
 * The layer may wrap another tuner layer (mixed adapter types): the base output is then that
 * layer's output, and the weights merged into are the innermost layer's, as in PEFT.
 */
export abstract class OftLayer extends TunerLayer {
  readonly peftType = OFT_PEFT_TYPE;
  private readonly rotationParams = new Map<string, LayerVariable>();
  private readonly cache = new InferenceCache();

  constructor(args: TunerLayerArgs) {
    super(args);
  }

  protected abstract readonly kernelRank: number;

  /** The layer that holds the weights (the base, or the base of nested tuner layers). */
  get weightLayer(): layers.Layer {
    return innermostLayer(this.baseLayer);
  }

  get kernel(): LayerVariable {
    return requireKernel(this.weightLayer, this.kernelRank);
  }

  get outFeatures(): number {
    const shape = this.kernel.shape;
    return shape[shape.length - 1]!;
  }

  /** The side of one block for r blocks. */
  blockSize(r: number): number {
    return Math.ceil(this.outFeatures / r);
  }

  protected createAdapter(adapterName: string, rawOptions: unknown): Map<string, ParamRef> {
    const options = rawOptions as OftAdapterOptions;
    if (!Number.isInteger(options.r) || options.r <= 0) {
      throw new InvalidConfigError(`\`r\` should be a positive integer value but the value passed is ${options.r} (layer "${this.name}")`, { field: 'r' });
    }
    const n = this.blockSize(options.r);
    const shape = [options.blockShare ? 1 : options.r, n, n];
    // torch's kaiming_uniform_(a=√5) on [b, n, n]: fan-in n·n, bound 1/n.
    const initial = options.initWeights ? tf.zeros(shape) : tf.randomUniform(shape, -1 / n, 1 / n, 'float32');
    const variable = namedVariable(initial, `${this.name}/oft_r.${adapterName}`);
    initial.dispose();
    this.rotationParams.set(adapterName, variable);
    return new Map([[`oft_r.${adapterName}`, permutedParam(variable)]]);
  }

  protected override onAdapterDeleted(adapterName: string): void {
    this.rotationParams.delete(adapterName);
    this.cache.delete(adapterName);
  }

  /**
   * COFT's projection as PEFT 0.11.1 does it, in place: each block whose Frobenius norm exceeds
   * eps·n²/√blocks is scaled down to that norm (the reference is a zero matrix).
   */
  private projectInPlace(adapterName: string, options: OftAdapterOptions): void {
    const variable = this.rotationParams.get(adapterName)!;
    const n = variable.shape[1]!;
    const limit = (options.eps * n * n) / Math.sqrt(variable.shape[0]!);
    const projected = tf.tidy(() => {
      const value = variable.read();
      const norm = tf.sqrt(tf.sum(tf.square(value), [1, 2], true));
      return tf.where(tf.lessEqual(norm, limit), value, tf.mul(limit, tf.div(value, norm)));
    });
    variable.write(projected);
    projected.dispose();
  }

  /** The adapter's Cayley blocks `[r, n, n]` (block_share repeats the single block r times). */
  private blocks(adapterName: string): tf.Tensor3D {
    const options = this.getAdapterOptions<OftAdapterOptions>(adapterName);
    if (options.coft) this.projectInPlace(adapterName, options);
    return tf.tidy(() => {
      const blocks = cayleyBatch(this.rotationParams.get(adapterName)!.read() as tf.Tensor3D);
      return options.blockShare ? (tf.tile(blocks, [options.r, 1, 1]) as tf.Tensor3D) : blocks;
    });
  }

  /** R cut to `[out, out]` (PEFT's get_delta_weight, then `[:out, :out]`); the caller disposes it. */
  rotation(adapterName: string): tf.Tensor2D {
    this.assertAdapter(adapterName);
    const blocks = this.blocks(adapterName);
    const rotation = this.assemble(blocks);
    blocks.dispose();
    return rotation;
  }

  private assemble(blocks: tf.Tensor3D): tf.Tensor2D {
    return tf.tidy(() => {
      const out = this.outFeatures;
      const full = blockDiagonal(blocks);
      return full.shape[0] === out ? full : (tf.slice(full, [0, 0], [out, out]) as tf.Tensor2D);
    });
  }

  /** The rotation a forward pass uses: in inference (no COFT rewrite, no tape) the blocks are reused while oft_r is unchanged. */
  private forwardRotation(adapterName: string, training: boolean): tf.Tensor2D {
    const { coft } = this.getAdapterOptions<OftAdapterOptions>(adapterName);
    if (coft || !InferenceCache.usable(training)) return this.rotation(adapterName);
    const blocks = this.cache.get(adapterName, this.rotationParams.get(adapterName)!, () => this.blocks(adapterName));
    return this.assemble(blocks);
  }

  /** The inverse of the cut rotation, block by block (the last block may be cut and no longer orthogonal). */
  private inverseRotation(adapterName: string): tf.Tensor2D {
    const blocks = this.blocks(adapterName);
    const inverse = tf.tidy(() => {
      const out = this.outFeatures;
      const n = blocks.shape[1];
      const whole = Math.min(Math.floor(out / n), blocks.shape[0]);
      const rest = out - whole * n;
      const parts: tf.Tensor2D[] = [];
      if (whole > 0) parts.push(blockDiagonal(batchedInverse(tf.slice(blocks, [0, 0, 0], [whole, n, n]) as tf.Tensor3D, { pivot: true })));
      if (rest > 0) parts.push(tf.reshape(batchedInverse(tf.slice(blocks, [whole, 0, 0], [1, rest, rest]) as tf.Tensor3D, { pivot: true }), [rest, rest]) as tf.Tensor2D);
      if (parts.length === 1) return parts[0]!;
      const [head, tail] = parts as [tf.Tensor2D, tf.Tensor2D];
      return tf.concat(
        [
          tf.pad(head, [
            [0, 0],
            [0, rest],
          ]),
          tf.pad(tail, [
            [0, 0],
            [whole * n, 0],
          ]),
        ],
        0,
      ) as tf.Tensor2D;
    });
    blocks.dispose();
    return inverse;
  }

  /** The base output before any activation; in a mixed model, that of the tuner layer this one wraps (its adapters applied). */
  private baseOutput(inputs: tf.Tensor, kwargs: Kwargs): tf.Tensor {
    if (TunerLayer.isTunerLayer(this.baseLayer)) return this.baseLayer.preActivationCall(inputs, kwargs);
    if (!layerActivation(this.baseLayer)) return this.baseLayer.call(inputs, kwargs) as tf.Tensor;
    return this.preActivation(inputs);
  }

  /** The plain base computation with its bias and without its activation (for a base with an activation). */
  protected abstract preActivation(inputs: tf.Tensor): tf.Tensor;

  /** Output before the innermost layer's activation, so an outer tuner layer of a mixed model can add to it. */
  override preActivationCall(inputs: tf.Tensor, kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      if (this.disabled || this.merged || this.activeAdapterNames.length === 0) return this.baseOutput(inputs, kwargs);
      return this.rotatedPreActivation(inputs, kwargs);
    });
  }

  protected adaptedCall(inputs: tf.Tensor, kwargs: Kwargs): tf.Tensor {
    const result = this.rotatedPreActivation(inputs, kwargs);
    const activation = layerActivation(this.weightLayer);
    return activation ? activation(result) : result;
  }

  private rotatedPreActivation(inputs: tf.Tensor, kwargs: Kwargs): tf.Tensor {
    if (currentForwardContext()?.adapterNames) {
      throw new AdapterStateError(`OFT layer "${this.name}" cannot run a mixed-adapter batch (adapterNames); PEFT 0.11.1 supports those for LoRA only`);
    }
    const training = kwargs.training === true;
    const bias = findBias(this.weightLayer);
    let result = this.baseOutput(inputs, kwargs);
    // The bias (the innermost layer's) is added after the rotation.
    if (bias) result = tf.sub(result, bias.read());
    for (const name of this.activeAdapterNames) {
      const { moduleDropout } = this.getAdapterOptions<OftAdapterOptions>(name);
      if (training && !(Math.random() > moduleDropout)) continue;
      result = matMulLastAxis(result, this.forwardRotation(name, training));
    }
    return bias ? tf.add(result, bias.read()) : result;
  }

  /** The kernel times a matrix along its output axis (torch: Mᵀ·W on the `[out, fan-in]` view). */
  private rotateKernel(matrix: tf.Tensor2D): tf.Tensor {
    const kernel = this.kernel.read();
    const out = this.outFeatures;
    return tf.reshape(tf.matMul(tf.reshape(kernel, [-1, out]) as tf.Tensor2D, matrix), kernel.shape);
  }

  protected mergeUpdates(adapterName: string): VariableUpdate[] {
    const rotation = this.rotation(adapterName);
    const value = tf.tidy(() => this.rotateKernel(rotation));
    rotation.dispose();
    return [{ variable: this.kernel, value }];
  }

  protected unmergeUpdates(adapterName: string): VariableUpdate[] {
    const inverse = this.inverseRotation(adapterName);
    const value = tf.tidy(() => this.rotateKernel(inverse));
    inverse.dispose();
    return [{ variable: this.kernel, value }];
  }
}

/** OFT on a Dense layer (or a linear class stored as torch Linear). */
export class OftDense extends OftLayer {
  static className = 'OftDense';
  protected readonly kernelRank = 2;

  constructor(args: TunerLayerArgs) {
    super(args);
  }

  protected preActivation(inputs: tf.Tensor): tf.Tensor {
    const output = matMulLastAxis(inputs, this.kernel.read());
    const bias = findBias(this.weightLayer);
    return bias ? tf.add(output, bias.read()) : output;
  }

  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return TunerLayer.fromTunerConfig((args) => new OftDense(args), config) as unknown as T;
  }
}

/** OFT on a channels-last Conv2D: the output channels are rotated; merge works on the `[out, in·kh·kw]` view. */
export class OftConv2D extends OftLayer {
  static className = 'OftConv2D';
  protected readonly kernelRank = 4;

  constructor(args: TunerLayerArgs) {
    super(args);
  }

  protected preActivation(inputs: tf.Tensor): tf.Tensor {
    const { strides, padding, dilation } = convSettings(this.weightLayer);
    const output = tf.conv2d(inputs as tf.Tensor4D, this.kernel.read() as tf.Tensor4D, strides, padding, 'NHWC', dilation);
    const bias = findBias(this.weightLayer);
    return bias ? tf.add(output, bias.read()) : output;
  }

  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return TunerLayer.fromTunerConfig((args) => new OftConv2D(args), config) as unknown as T;
  }
}
