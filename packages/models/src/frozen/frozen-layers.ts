import * as tf from '@tensorflow/tfjs-core';
import { layers as tflLayers } from '@tensorflow/tfjs-layers';
import type { layers, LayerVariable } from '@tensorflow/tfjs-layers';
import type { DenseLayerArgs } from '@tensorflow/tfjs-layers/dist/layers/core';
import type { EmbeddingLayerArgs } from '@tensorflow/tfjs-layers/dist/layers/embeddings';
import { FROZEN_LINEAR_LAYER, registerLayerFormat, registerLinearLayerClass } from '@peftjs/core';
import { single, singleShape, type Kwargs, type Shape } from '../layers/layer-utils';
import { frozenGather, frozenMatMul } from './frozen-ops';
import type { FrozenWeight } from './frozen-weight';
import { FrozenWeightVariable } from './frozen-weight-variable';
import type { HeadProjection } from '../layers/tied-lm-head';

/** Dense's private fields, which a subclass that supplies its own kernel has to set. */
interface DenseInternals {
  kernel: LayerVariable | null;
  bias: LayerVariable | null;
  units: number;
  useBias: boolean;
  biasInitializer: unknown;
  biasRegularizer: unknown;
  biasConstraint: unknown;
  _trainableWeights: LayerVariable[];
}

export interface FrozenLinearArgs extends DenseLayerArgs {
  /** The weight, `[units, in]` as torch's Linear keeps it, in a frozen-weight store. */
  weight?: FrozenWeight;
}

/**
 * A Linear (tfjs Dense, `y = x·W + b`) whose weight lives in a frozen-weight store: the forward
 * and the input gradient read it in place (native kernels, or a per-call float32 copy without the
 * addon), and it never gets a gradient. Its `kernel` is a `FrozenWeightVariable`, so torch naming,
 * loading, saving and merging find it where a Dense keeps it; LoRA and IA3 wrap it as a Dense.
 * The bias (small) stays a tfjs variable. Built without a weight (deserialised), it is a Dense.
 */
/** tfjs-layers does not export its Dense class; take it from an instance. */
const DenseClass = tflLayers.dense({ units: 1 }).constructor as new (args: DenseLayerArgs) => layers.Layer;

export class FrozenLinear extends DenseClass {
  static className = 'FrozenLinear';
  readonly [FROZEN_LINEAR_LAYER] = true as const;
  frozenWeight: FrozenWeight | undefined;

  constructor(args: FrozenLinearArgs) {
    const { weight, ...rest } = args;
    if (rest.activation !== undefined && rest.activation !== 'linear') throw new Error(`${rest.name ?? 'FrozenLinear'}: a Linear layer has no activation`);
    super(rest);
    this.frozenWeight = weight;
  }

  override build(inputShape: Shape | Shape[]): void {
    const internals = this as unknown as DenseInternals;
    const weight = this.frozenWeight;
    if (weight && internals.kernel == null) {
      const inputs = singleShape(inputShape)[singleShape(inputShape).length - 1];
      if (weight.rows !== internals.units || (inputs != null && weight.cols !== inputs)) {
        throw new Error(`${this.name}: the stored weight is [${weight.rows}, ${weight.cols}], but the layer maps ${inputs} inputs to ${internals.units} units`);
      }
      const kernel = new FrozenWeightVariable(weight, 'kernel', 'transposed');
      internals._trainableWeights.push(kernel);
      internals.kernel = kernel;
      if (internals.useBias) {
        // Created frozen, so the weights read [kernel, bias] as a Dense's do (IA3 and others take weights[0] as the kernel).
        internals.bias = this.addWeight(
          'bias',
          [internals.units],
          'float32',
          internals.biasInitializer as never,
          internals.biasRegularizer as never,
          false,
          internals.biasConstraint as never,
        );
      }
    }
    super.build(inputShape);
  }

  /** x·W + b through the store (no weight gradient). */
  frozenForward(inputs: tf.Tensor): tf.Tensor {
    const internals = this as unknown as DenseInternals;
    if (!this.frozenWeight) return super.call(inputs, {}) as tf.Tensor;
    return tf.tidy(() => {
      const output = frozenMatMul(inputs, this.frozenWeight!, true);
      return internals.bias ? tf.add(output, internals.bias.read()) : output;
    });
  }

  /** The layer as an output head over chunks of rows (an untied `lm_head`), for a chunked loss. */
  projection(): HeadProjection {
    const weight = this.frozenWeight;
    if (!weight) throw new Error(`${this.name}: projection() needs a stored weight`);
    return {
      vocabSize: weight.rows,
      hiddenSize: weight.cols,
      logits: (hidden) => this.frozenForward(hidden) as tf.Tensor2D,
      inputGradient: (dLogits) => frozenMatMul(dLogits, weight, false) as tf.Tensor2D,
    };
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    if (!this.frozenWeight) return super.call(inputs, kwargs) as tf.Tensor;
    return this.frozenForward(single(inputs));
  }
}

/** GPT-2's Conv1D over a store: the torch weight is `[in, out]` (kept `[out, in]` in the store). */
export class FrozenGPT2Conv1D extends FrozenLinear {
  static override className = 'FrozenGPT2Conv1D';
}

for (const layerClass of [FrozenLinear, FrozenGPT2Conv1D]) {
  tf.serialization.registerClass(layerClass as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);
  registerLinearLayerClass(layerClass.className);
}
registerLayerFormat(FrozenLinear.className, { weights: { kernel: { torchName: 'weight', toTorchPermutation: [1, 0] }, bias: { torchName: 'bias' } } });
registerLayerFormat(FrozenGPT2Conv1D.className, { weights: { kernel: { torchName: 'weight' }, bias: { torchName: 'bias' } } });

/** tfjs-layers does not export its Embedding class; take it from an instance. */
const EmbeddingClass = tflLayers.embedding({ inputDim: 1, outputDim: 1 }).constructor as new (args: EmbeddingLayerArgs) => layers.Layer;

/**
 * A tfjs Embedding whose table lives in a frozen-weight store (rows gathered in place). It keeps
 * the class name `Embedding`, so methods that adapt or wrap embeddings (LoRA, prompt tuning)
 * treat it as one; its `embeddings` weight is a `FrozenWeightVariable`.
 */
export class FrozenEmbedding extends EmbeddingClass {
  frozenWeight: FrozenWeight;

  constructor(args: EmbeddingLayerArgs & { weight: FrozenWeight }) {
    const { weight, ...rest } = args;
    super(rest);
    this.frozenWeight = weight;
  }

  override build(_inputShape: Shape | Shape[]): void {
    const self = this as unknown as { embeddings: LayerVariable | null; _trainableWeights: LayerVariable[]; inputDim: number; outputDim: number; built: boolean };
    if (self.embeddings == null) {
      if (this.frozenWeight.rows !== self.inputDim || this.frozenWeight.cols !== self.outputDim) {
        throw new Error(`${this.name}: the stored table is [${this.frozenWeight.rows}, ${this.frozenWeight.cols}], but the layer is [${self.inputDim}, ${self.outputDim}]`);
      }
      const table = new FrozenWeightVariable(this.frozenWeight, 'embeddings', 'same');
      self._trainableWeights.push(table);
      self.embeddings = table;
    }
    self.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return frozenGather(single(inputs), this.frozenWeight);
  }
}

/** The store-backed weight of a layer (a frozen Linear, Conv1D or Embedding), if it has one. */
export function storedWeightOf(layer: layers.Layer): FrozenWeight | undefined {
  const stored = layer.weights.find((weight) => FrozenWeightVariable.isFrozenWeightVariable(weight));
  return stored ? (stored as FrozenWeightVariable).weight : undefined;
}
