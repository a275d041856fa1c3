import * as tf from '@tensorflow/tfjs-core';
import { LayerVariable } from '@tensorflow/tfjs-layers';
import { AdapterStateError, InvalidConfigError, permutedParam, TunerLayer, type ParamRef, type TunerLayerArgs, type VariableUpdate } from '@peftjs/core';
import { matMulLastAxis } from './lycoris-math';

type Kwargs = Record<string, unknown>;

/** What every LyCORIS adapter of one layer is created from (also what getConfig() stores). */
export interface LycorisAdapterOptions {
  r: number;
  alpha: number;
  rankDropout: number;
  moduleDropout: number;
  initWeights: boolean;
  useEffectiveConv2d: boolean;
}

/** The torch geometry of the adapted base layer: Linear `[out, in]` or Conv2d `[out, in, kh, kw]`. */
export interface LycorisBaseGeometry {
  kind: 'dense' | 'conv2d';
  outFeatures: number;
  inFeatures: number;
  /** Conv2d only. */
  kernelSize?: [number, number];
}

function localName(variable: LayerVariable): string {
  const name = variable.originalName ?? variable.name;
  return name.slice(name.lastIndexOf('/') + 1);
}

function findWeight(layer: { weights: LayerVariable[] }, name: string, rank: number): LayerVariable | undefined {
  const weights = layer.weights;
  return (
    weights.find((variable) => localName(variable) === name && variable.shape.length === rank) ??
    weights.find((variable) => localName(variable).replace(/_\d+$/, '') === name && variable.shape.length === rank)
  );
}

function pair(value: unknown, fallback: number): [number, number] {
  if (Array.isArray(value)) return [Number(value[0] ?? fallback), Number(value[1] ?? value[0] ?? fallback)];
  if (typeof value === 'number') return [value, value];
  return [fallback, fallback];
}

/** Why a Conv2D cannot be adapted by a LyCORIS layer, or undefined when it can. */
export function lycorisConv2dProblem(config: tf.serialization.ConfigDict): string | undefined {
  if (config.dataFormat === 'channelsFirst') return 'dataFormat "channelsFirst" (LyCORIS layers support channelsLast Conv2D)';
  if (config.padding === 'causal') return 'padding "causal"';
  return undefined;
}

/**
 * A LayerVariable named `<layer>/<local>`, pinned so a deserialized layer (built inside its own
 * name scope) saves and loads its weights under the same name.
 */
function namedVariable(value: tf.Tensor, name: string): LayerVariable {
  const variable = new LayerVariable(value, 'float32', name, true);
  if (variable.originalName !== name) (variable as { originalName: string }).originalName = name;
  return variable;
}

/**
 * PEFT 0.11.1's LycorisLayer on a Dense (torch Linear) or a channels-last Conv2D: named adapters,
 * each a set of factors that rebuild a full weight delta ΔW (LoHa: Hadamard product of low-rank
 * products; LoKr: Kronecker product). Forward adds `x·ΔW` (Conv2D: ΔW convolved with the base
 * strides, padding and dilation, no bias) for each active adapter; in training each adapter is
 * skipped with probability `module_dropout` and ΔW's output rows are dropped with probability
 * `rank_dropout` and rescaled by their mean, exactly as PEFT does. Merge adds ΔW to the base
 * weight.
 *
 * Factors are kept in torch layout (they have no tfjs counterpart), so they save as they are; ΔW
 * is converted to the kernel's tfjs layout where it meets the base weight.
 */
export abstract class LycorisLayer extends TunerLayer {
  /** Each adapter's factors by PEFT's short name (`hada_w1_a`, `lokr_w1`, ...). */
  protected readonly factors = new Map<string, Map<string, LayerVariable>>();
  private kernelVariable: LayerVariable | undefined;
  private biasVariable: LayerVariable | null | undefined;

  constructor(args: TunerLayerArgs) {
    super(args);
  }

  // ---- what each method provides ------------------------------------------------------------

  /** The initial factors of a new adapter, by short name, in torch layout. */
  protected abstract initialFactors(options: LycorisAdapterOptions, geometry: LycorisBaseGeometry): Array<[string, tf.Tensor]>;
  /** ΔW in torch layout and shape (before rank dropout) from an adapter's factors. */
  protected abstract rebuildDelta(adapterName: string, options: LycorisAdapterOptions, geometry: LycorisBaseGeometry): tf.Tensor;

  // ---- the base layer ---------------------------------------------------------------------------

  /** Dense or Conv2D: decided by the plain layer under any other tuner's layer. */
  get geometry(): LycorisBaseGeometry {
    const kernel = this.kernel;
    if (kernel.shape.length === 4) {
      const [kh, kw, inChannels, outChannels] = kernel.shape as number[];
      return { kind: 'conv2d', outFeatures: outChannels!, inFeatures: inChannels!, kernelSize: [kh!, kw!] };
    }
    return { kind: 'dense', outFeatures: kernel.shape[1]!, inFeatures: kernel.shape[0]! };
  }

  /** The base weight in the tfjs layout (Dense `[in, out]`, Conv2D `[kh, kw, in, out]`). */
  get kernel(): LayerVariable {
    if (!this.kernelVariable) {
      const base = this.innermostBaseLayer;
      const rank = base.getClassName() === 'Conv2D' ? 4 : 2;
      const found = findWeight(base, 'kernel', rank) ?? base.weights.find((variable) => variable.shape.length === rank);
      if (!found) throw new AdapterStateError(`layer "${base.name}" (${base.getClassName()}) has no rank-${rank} kernel; build the layer before adapting it`);
      this.kernelVariable = found;
    }
    return this.kernelVariable;
  }

  private get bias(): LayerVariable | undefined {
    if (this.biasVariable === undefined) this.biasVariable = findWeight(this.innermostBaseLayer, 'bias', 1) ?? null;
    return this.biasVariable ?? undefined;
  }

  private convSettings(): { strides: [number, number]; padding: 'same' | 'valid'; dilation: [number, number] } {
    const config = this.innermostBaseLayer.getConfig();
    return { strides: pair(config.strides, 1), padding: config.padding === 'same' ? 'same' : 'valid', dilation: pair(config.dilationRate, 1) };
  }

  /** The base computation with a kernel and no bias. */
  private applyKernel(inputs: tf.Tensor, kernel: tf.Tensor): tf.Tensor {
    if (kernel.rank === 2) return matMulLastAxis(inputs, kernel);
    const { strides, padding, dilation } = this.convSettings();
    return tf.conv2d(inputs as tf.Tensor4D, kernel as tf.Tensor4D, strides, padding, 'NHWC', dilation);
  }

  private activate(outputs: tf.Tensor): tf.Tensor {
    const activation = (this.innermostBaseLayer as { activation?: { apply(x: tf.Tensor): tf.Tensor; getClassName?(): string } | null }).activation;
    if (!activation || activation.getClassName?.() === 'linear') return outputs;
    return activation.apply(outputs);
  }

  /** The base output before the activation; in a mixed model, that of the tuner layer this one wraps. */
  private basePreActivation(inputs: tf.Tensor, kwargs: Kwargs): tf.Tensor {
    if (TunerLayer.isTunerLayer(this.baseLayer)) return this.baseLayer.preActivationCall(inputs, kwargs);
    const output = this.applyKernel(inputs, this.kernel.read());
    const bias = this.bias;
    return bias ? tf.add(output, bias.read()) : output;
  }

  // ---- adapters -------------------------------------------------------------------------------

  /** The options an adapter was created with, and its scaling α / r. */
  adapterSettings(adapterName: string): LycorisAdapterOptions & { scaling: number } {
    const options = this.getAdapterOptions<LycorisAdapterOptions>(adapterName);
    return { ...options, scaling: options.alpha / options.r };
  }

  /** One factor of an adapter (its variable), if the adapter has it. */
  factor(adapterName: string, shortName: string): LayerVariable | undefined {
    return this.factors.get(adapterName)?.get(shortName);
  }

  protected createAdapter(adapterName: string, rawOptions: unknown): Map<string, ParamRef> {
    const options = rawOptions as LycorisAdapterOptions;
    if (!Number.isInteger(options.r) || options.r <= 0) {
      throw new InvalidConfigError(`\`r\` should be a positive integer value but the value passed is ${options.r} (layer "${this.name}")`, { field: 'r' });
    }
    const initial = this.initialFactors(options, this.geometry);
    const variables = new Map<string, LayerVariable>();
    const params = new Map<string, ParamRef>();
    for (const [shortName, value] of initial) {
      const variable = namedVariable(value, `${this.name}/${shortName}.${adapterName}`);
      variables.set(shortName, variable);
      params.set(`${shortName}.${adapterName}`, permutedParam(variable));
    }
    tf.dispose(initial.map(([, value]) => value));
    this.factors.set(adapterName, variables);
    return params;
  }

  protected override onAdapterDeleted(adapterName: string): void {
    this.factors.delete(adapterName);
  }

  // ---- ΔW -------------------------------------------------------------------------------------

  /**
   * PEFT's get_delta_weight: ΔW in torch layout `[out, in]` / `[out, in, kh, kw]`. In training
   * with rank_dropout, output rows are kept with probability 1 − p and the kept mask is divided by
   * its mean (no other rescaling, as LyCORIS does). The caller disposes it.
   */
  deltaWeight(adapterName: string, options: { training?: boolean } = {}): tf.Tensor {
    this.assertAdapter(adapterName);
    return tf.tidy(() => {
      const settings = this.getAdapterOptions<LycorisAdapterOptions>(adapterName);
      const geometry = this.geometry;
      const shape = geometry.kind === 'conv2d' ? [geometry.outFeatures, geometry.inFeatures, ...geometry.kernelSize!] : [geometry.outFeatures, geometry.inFeatures];
      let weight = tf.reshape(this.rebuildDelta(adapterName, settings, geometry), shape);
      if (options.training && settings.rankDropout > 0) {
        const kept = tf.cast(tf.greater(tf.randomUniform([shape[0]!]), settings.rankDropout), 'float32');
        const drop = tf.div(kept, tf.mean(kept));
        weight = tf.mul(weight, tf.reshape(drop, [-1, ...shape.slice(1).map(() => 1)]));
      }
      return weight;
    });
  }

  /** ΔW in the base kernel's tfjs layout (Dense `[in, out]`, Conv2D `[kh, kw, in, out]`). The caller disposes it. */
  deltaKernel(adapterName: string, options: { training?: boolean } = {}): tf.Tensor {
    return tf.tidy(() => {
      const weight = this.deltaWeight(adapterName, options);
      return weight.rank === 4 ? tf.transpose(weight, [2, 3, 1, 0]) : tf.transpose(weight);
    });
  }

  // ---- forward --------------------------------------------------------------------------------

  private adaptedPreActivation(inputs: tf.Tensor, kwargs: Kwargs): tf.Tensor {
    const training = kwargs.training === true;
    let result = this.basePreActivation(inputs, kwargs);
    for (const name of this.activeAdapterNames) {
      const { moduleDropout } = this.getAdapterOptions<LycorisAdapterOptions>(name);
      // PEFT: `if (not self.training) or (torch.rand(1) > module_dropout)`, the whole adapter at once.
      if (training && !(Math.random() > moduleDropout)) continue;
      result = tf.add(result, this.applyKernel(inputs, this.deltaKernel(name, { training })));
    }
    return result;
  }

  protected adaptedCall(inputs: tf.Tensor, kwargs: Kwargs): tf.Tensor {
    return this.activate(this.adaptedPreActivation(inputs, kwargs));
  }

  override preActivationCall(inputs: tf.Tensor, kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      if (this.disabled || this.merged || this.activeAdapterNames.length === 0) return this.basePreActivation(inputs, kwargs);
      return this.adaptedPreActivation(inputs, kwargs);
    });
  }

  // ---- merging --------------------------------------------------------------------------------

  protected mergeUpdates(adapterName: string): VariableUpdate[] {
    const kernel = this.kernel;
    return [{ variable: kernel, value: tf.tidy(() => tf.add(kernel.read(), this.deltaKernel(adapterName))) }];
  }

  protected unmergeUpdates(adapterName: string): VariableUpdate[] {
    const kernel = this.kernel;
    return [{ variable: kernel, value: tf.tidy(() => tf.sub(kernel.read(), this.deltaKernel(adapterName))) }];
  }
}
