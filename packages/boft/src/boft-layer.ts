import * as tf from '@tensorflow/tfjs-core';
import { LayerVariable } from '@tensorflow/tfjs-layers';
import { AdapterStateError, currentForwardContext, TunerLayer, type ParamRef, type TunerLayerArgs, type VariableUpdate } from '@peftjs/core';
import { blockDiagonal, cayleyBatch, convSettings, findBias, InferenceCache, layerActivation, matMulLastAxis, requireKernel } from '@peftjs/oft';
import { BOFT_PEFT_TYPE } from './boft-config';
import { boftBlocks, type BoftBlocks } from './butterfly';

type Kwargs = Record<string, unknown>;

/** What one BOFT adapter of one layer is created from (also what the layer's getConfig() stores). */
export interface BoftAdapterOptions {
  boftBlockSize: number;
  boftBlockNum: number;
  /** The butterfly factor the adapter has (the config's, or the one a loaded file was saved with). */
  boftNButterflyFactor: number;
  boftDropout: number;
  initWeights: boolean;
}

interface AdapterState {
  rotation: LayerVariable;
  scale: LayerVariable;
  blocks: BoftBlocks;
  /** int32 row orders, one per factor: `boft_P[i]` as a gather. */
  permutations: tf.Tensor1D[];
}

function namedVariable(value: tf.Tensor, name: string): LayerVariable {
  const variable = new LayerVariable(value, 'float32', name, true);
  if (variable.originalName !== name) (variable as { originalName: string }).originalName = name;
  return variable;
}

/**
 * BOFT as PEFT 0.11.1 computes it: per adapter, `boft_R` `[N, D, H, H]` (N butterfly factors of D
 * blocks of H×H, D·H = the fan-in) and `boft_s` (one scale per output). The rotation is
 * R = B_{N−1}·…·B_0 with B_i = P_i·blockdiag(cayley(boft_R[i]))·P_iᵀ; the weight the layer runs
 * with is W' = (R·Wᵀ)ᵀ·diag(s) — the INPUT side rotated, output rows scaled, bias untouched.
 * Several active adapters chain their rotations and multiply their scales.
 */
export abstract class BoftLayer extends TunerLayer {
  readonly peftType = BOFT_PEFT_TYPE;
  private readonly states = new Map<string, AdapterState>();
  private readonly cache = new InferenceCache();

  constructor(args: TunerLayerArgs) {
    super(args);
  }

  protected abstract readonly kernelRank: number;
  /** The fan-in the rotation acts on: in features, or in·kh·kw for Conv2D. */
  abstract get features(): number;
  /** The torch shape of `boft_s`: `[out, 1]` (Linear) or `[1, out]` (Conv2d). */
  protected abstract scaleTorchShape(out: number): number[];
  /** The kernel as the `[features, out]` matrix PEFT rotates (Linear: Wᵀ; Conv2d: the weight's memory viewed so). */
  protected abstract kernelView(kernel: tf.Tensor): tf.Tensor2D;
  protected abstract kernelFromView(view: tf.Tensor2D): tf.Tensor;
  /** The base computation with another kernel, bias and activation excluded. */
  protected abstract applyKernel(inputs: tf.Tensor, kernel: tf.Tensor): tf.Tensor;

  get kernel(): LayerVariable {
    return requireKernel(this.baseLayer, this.kernelRank);
  }

  get outFeatures(): number {
    const shape = this.kernel.shape;
    return shape[shape.length - 1]!;
  }

  /** The effective butterfly factor of an adapter (`boft_R.shape[0]`). */
  butterflyFactor(adapterName: string): number {
    this.assertAdapter(adapterName);
    return this.states.get(adapterName)!.blocks.factor;
  }

  /** The permutation buffer PEFT saves as `boft_P` `[N, F, F]` (a new tensor). */
  permutationMatrices(adapterName: string): tf.Tensor3D {
    this.assertAdapter(adapterName);
    const { permutations } = this.states.get(adapterName)!;
    return tf.tidy(() => tf.stack(permutations.map((order) => tf.oneHot(order, this.features))) as tf.Tensor3D);
  }

  protected createAdapter(adapterName: string, rawOptions: unknown): Map<string, ParamRef> {
    const options = rawOptions as BoftAdapterOptions;
    const blocks = boftBlocks(this.features, { blockSize: options.boftBlockSize, blockNum: options.boftBlockNum, factor: options.boftNButterflyFactor }, this.name);
    const out = this.outFeatures;
    const rotationShape = [blocks.factor, blocks.blockNum, blocks.blockSize, blocks.blockSize];
    const [rotationValue, scaleValue] = options.initWeights ? [tf.zeros(rotationShape), tf.ones([out])] : [tf.randomNormal(rotationShape, 0, 0.1), tf.randomNormal([out], 1, 0.1)];
    const rotation = namedVariable(rotationValue!, `${this.name}/boft_R.${adapterName}`);
    const scale = namedVariable(scaleValue!, `${this.name}/boft_s.${adapterName}`);
    tf.dispose([rotationValue!, scaleValue!]);
    const permutations = blocks.permutations.map((order) => tf.keep(tf.tensor1d(order, 'int32')));
    this.states.set(adapterName, { rotation, scale, blocks, permutations });
    const torchShape = this.scaleTorchShape(out);
    const scaleParam: ParamRef = { variable: scale, torchShape, toTorch: (value) => tf.reshape(value, torchShape), fromTorch: (value) => tf.reshape(value, [out]) };
    const rotationParam: ParamRef = { variable: rotation, torchShape: rotationShape, toTorch: (value) => value.clone(), fromTorch: (value) => value.clone() };
    return new Map([
      [`boft_R.${adapterName}`, rotationParam],
      [`boft_s.${adapterName}`, scaleParam],
    ]);
  }

  protected override onAdapterDeleted(adapterName: string): void {
    const state = this.states.get(adapterName);
    if (state) tf.dispose(state.permutations);
    this.states.delete(adapterName);
    this.cache.delete(adapterName);
  }

  /**
   * Rebuilds an adapter for another butterfly factor (PEFT 0.11.1 falls back to 1 without its
   * CUDA extension, so a file carries the factor in `boft_R`'s shape). The new weights are fresh;
   * `commit` frees the old ones, `undo` puts them back.
   */
  resizeButterfly(adapterName: string, factor: number): { commit(): void; undo(): void } {
    this.assertAdapter(adapterName);
    const options = this.getAdapterOptions<BoftAdapterOptions>(adapterName);
    if (options.boftNButterflyFactor === factor) return { commit: () => {}, undo: () => {} };
    const previousState = this.states.get(adapterName)!;
    const previousParams = this.adapterParams.get(adapterName)!;
    const resized = { ...options, boftNButterflyFactor: factor };
    const params = this.createAdapter(adapterName, resized);
    for (const param of params.values()) param.variable.trainable = previousState.rotation.trainable;
    const newState = this.states.get(adapterName)!;
    this.adapterParams.set(adapterName, params);
    this.adapterOptions.set(adapterName, resized);
    const free = (state: AdapterState) => {
      state.rotation.dispose();
      state.scale.dispose();
      tf.dispose(state.permutations);
    };
    return {
      commit: () => free(previousState),
      undo: () => {
        this.states.set(adapterName, previousState);
        this.adapterParams.set(adapterName, previousParams);
        this.adapterOptions.set(adapterName, options);
        free(newState);
      },
    };
  }

  /** R `[F, F]` of one adapter; in training, PEFT's multiplicative dropout swaps random blocks for identities. */
  rotation(adapterName: string, training = false): tf.Tensor2D {
    this.assertAdapter(adapterName);
    const { rotation, blocks, permutations } = this.states.get(adapterName)!;
    const { boftDropout } = this.getAdapterOptions<BoftAdapterOptions>(adapterName);
    return tf.tidy(() => {
      const { factor, blockNum, blockSize } = blocks;
      let orthogonal = tf.reshape(cayleyBatch(tf.reshape(rotation.read(), [factor * blockNum, blockSize, blockSize]) as tf.Tensor3D), [factor, blockNum, blockSize, blockSize]);
      if (training && boftDropout > 0) orthogonal = this.multiplicativeDropout(orthogonal as tf.Tensor4D, boftDropout);
      let result: tf.Tensor2D | undefined;
      for (let index = 0; index < factor; index++) {
        const diagonal = blockDiagonal(tf.reshape(tf.slice(orthogonal, [index, 0, 0, 0], [1, blockNum, blockSize, blockSize]), [blockNum, blockSize, blockSize]) as tf.Tensor3D);
        // P·B·Pᵀ with P[i, order[i]] = 1 is B with rows and columns reordered.
        const order = permutations[index]!;
        const butterfly = tf.gather(tf.gather(diagonal, order, 0), order, 1) as tf.Tensor2D;
        result = result ? (tf.matMul(butterfly, result) as tf.Tensor2D) : butterfly;
      }
      return result!;
    });
  }

  /** PEFT's MultiplicativeDropoutLayer: in one random factor, int(p·D) random blocks become identities. */
  private multiplicativeDropout(blocks: tf.Tensor4D, probability: number): tf.Tensor4D {
    const [factor, count, size] = blocks.shape;
    const chosen = Math.floor(Math.random() * factor);
    const replaced = Math.trunc(probability * count);
    const order = [...Array(count).keys()];
    for (let index = count - 1; index > 0; index--) {
      const swap = Math.floor(Math.random() * (index + 1));
      [order[index], order[swap]] = [order[swap]!, order[index]!];
    }
    const maskValues = new Float32Array(factor * count);
    order.slice(0, replaced).forEach((block) => {
      maskValues[chosen * count + block] = 1;
    });
    const mask = tf.tensor4d(maskValues, [factor, count, 1, 1]);
    const eye = tf.reshape(tf.eye(size), [1, 1, size, size]);
    return tf.add(tf.mul(tf.sub(1, mask), blocks), tf.mul(mask, eye)) as tf.Tensor4D;
  }

  /** The rotation and scale of the active adapters together (later adapters rotate after earlier ones). */
  private combined(adapterNames: readonly string[], training: boolean): { rotation: tf.Tensor2D; scale: tf.Tensor1D } {
    let rotation: tf.Tensor2D | undefined;
    let scale: tf.Tensor1D | undefined;
    const cached = InferenceCache.usable(training);
    for (const name of adapterNames) {
      // In inference the rotation is reused while boft_R is unchanged (the cache owns it; tidy leaves kept tensors alone).
      const current = cached ? this.cache.get(name, this.states.get(name)!.rotation, () => this.rotation(name)) : this.rotation(name, training);
      rotation = rotation ? (tf.matMul(current, rotation) as tf.Tensor2D) : current;
      const own = this.states.get(name)!.scale.read() as tf.Tensor1D;
      scale = scale ? (tf.mul(own, scale) as tf.Tensor1D) : own;
    }
    return { rotation: rotation!, scale: scale! };
  }

  /** W' in the tfjs kernel layout: (R·view)·diag(s) mapped back. */
  private rotatedKernel(rotation: tf.Tensor2D, scale: tf.Tensor1D): tf.Tensor {
    return this.kernelFromView(tf.mul(tf.matMul(rotation, this.kernelView(this.kernel.read())), scale) as tf.Tensor2D);
  }

  protected adaptedCall(inputs: tf.Tensor, kwargs: Kwargs): tf.Tensor {
    if (currentForwardContext()?.adapterNames) {
      throw new AdapterStateError(`BOFT layer "${this.name}" cannot run a mixed-adapter batch (adapterNames); PEFT 0.11.1 supports those for LoRA only`);
    }
    const { rotation, scale } = this.combined(this.activeAdapterNames, kwargs.training === true);
    let result = this.applyKernel(inputs, this.rotatedKernel(rotation, scale));
    const bias = findBias(this.baseLayer);
    if (bias) result = tf.add(result, bias.read());
    const activation = layerActivation(this.baseLayer);
    return activation ? activation(result) : result;
  }

  protected mergeUpdates(adapterName: string): VariableUpdate[] {
    const value = tf.tidy(() => {
      const { rotation, scale } = this.combined([adapterName], false);
      return this.rotatedKernel(rotation, scale);
    });
    return [{ variable: this.kernel, value }];
  }

  protected unmergeUpdates(adapterName: string): VariableUpdate[] {
    const value = tf.tidy(() => {
      const { rotation, scale } = this.combined([adapterName], false);
      return this.kernelFromView(tf.div(tf.matMul(rotation, this.kernelView(this.kernel.read()), true, false), scale) as tf.Tensor2D);
    });
    return [{ variable: this.kernel, value }];
  }
}

/** BOFT on a Dense layer (or a linear class stored as torch Linear). */
export class BoftDense extends BoftLayer {
  static className = 'BoftDense';
  protected readonly kernelRank = 2;

  constructor(args: TunerLayerArgs) {
    super(args);
  }

  get features(): number {
    return this.kernel.shape[0]!;
  }

  protected scaleTorchShape(out: number): number[] {
    return [out, 1];
  }

  protected kernelView(kernel: tf.Tensor): tf.Tensor2D {
    return kernel as tf.Tensor2D;
  }

  protected kernelFromView(view: tf.Tensor2D): tf.Tensor {
    return view;
  }

  protected applyKernel(inputs: tf.Tensor, kernel: tf.Tensor): tf.Tensor {
    return matMulLastAxis(inputs, kernel);
  }

  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return TunerLayer.fromTunerConfig((args) => new BoftDense(args), config) as unknown as T;
  }
}

/**
 * BOFT on a channels-last Conv2D with a square kernel. PEFT 0.11.1 reinterprets the torch weight
 * `[out, in, kh, kw]` as `[in·kh·kw, out]` with a plain view (not a transpose) before rotating
 * it; the same is done here on the torch-layout copy of the kernel. Like PEFT, the adapted
 * convolution uses the base stride and padding (dilation 1 only).
 */
export class BoftConv2D extends BoftLayer {
  static className = 'BoftConv2D';
  protected readonly kernelRank = 4;

  constructor(args: TunerLayerArgs) {
    super(args);
  }

  get features(): number {
    const [kh, kw, inChannels] = this.kernel.shape as number[];
    return kh! * kw! * inChannels!;
  }

  protected scaleTorchShape(out: number): number[] {
    return [1, out];
  }

  protected kernelView(kernel: tf.Tensor): tf.Tensor2D {
    return tf.reshape(tf.transpose(kernel, [3, 2, 0, 1]), [this.features, this.outFeatures]) as tf.Tensor2D;
  }

  protected kernelFromView(view: tf.Tensor2D): tf.Tensor {
    const [kh, kw, inChannels, out] = this.kernel.shape as number[];
    return tf.transpose(tf.reshape(view, [out!, inChannels!, kh!, kw!]), [2, 3, 1, 0]);
  }

  protected applyKernel(inputs: tf.Tensor, kernel: tf.Tensor): tf.Tensor {
    const { strides, padding } = convSettings(this.baseLayer);
    return tf.conv2d(inputs as tf.Tensor4D, kernel as tf.Tensor4D, strides, padding, 'NHWC');
  }

  static override fromConfig<T extends tf.serialization.Serializable>(_cls: tf.serialization.SerializableConstructor<T>, config: tf.serialization.ConfigDict): T {
    return TunerLayer.fromTunerConfig((args) => new BoftConv2D(args), config) as unknown as T;
  }
}
