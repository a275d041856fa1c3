import * as tf from '@tensorflow/tfjs-core';
import type { LayerVariable } from '@tensorflow/tfjs-layers';
import type { ParamRef } from '@peftjs/core';
import { kernelParam, ownedVariable, plainParam, uniformInit } from './torch-init';

/**
 * What turns the virtual-token embedding into the prompt (P-tuning's MLP / LSTM encoder, prefix
 * tuning's projection). Parameters are named as in PEFT below the head's module name:
 * `mlp_head.0.weight`, `lstm_head.weight_ih_l0`, `transform.2.bias`.
 */
export interface PromptHead {
  readonly params: ReadonlyMap<string, ParamRef>;
  /** `[rows, in]` → `[rows, out]`. */
  apply(input: tf.Tensor2D, training: boolean): tf.Tensor2D;
  dispose(): void;
}

export type HeadActivation = 'relu' | 'tanh';

/** `Linear – act – Linear – act – … – Linear` (torch `nn.Sequential`: Linears at even indices). */
export class MlpHead implements PromptHead {
  readonly params = new Map<string, ParamRef>();
  private readonly linears: Array<{ kernel: LayerVariable; bias: LayerVariable }> = [];

  constructor(
    readonly moduleName: string,
    sizes: readonly number[],
    private readonly activation: HeadActivation,
    variablePrefix: string,
  ) {
    for (let index = 0; index + 1 < sizes.length; index++) {
      const [fanIn, fanOut] = [sizes[index]!, sizes[index + 1]!];
      const local = `${moduleName}.${2 * index}`;
      const kernel = ownedVariable(uniformInit([fanIn, fanOut], fanIn), `${variablePrefix}${local}.weight`);
      const bias = ownedVariable(uniformInit([fanOut], fanIn), `${variablePrefix}${local}.bias`);
      this.linears.push({ kernel, bias });
      this.params.set(`${local}.weight`, kernelParam(kernel));
      this.params.set(`${local}.bias`, plainParam(bias));
    }
  }

  apply(input: tf.Tensor2D): tf.Tensor2D {
    let x: tf.Tensor2D = input;
    this.linears.forEach(({ kernel, bias }, index) => {
      x = tf.add(tf.matMul(x, kernel.read()), bias.read());
      if (index < this.linears.length - 1) x = this.activation === 'relu' ? tf.relu(x) : tf.tanh(x);
    });
    return x;
  }

  dispose(): void {
    for (const { kernel, bias } of this.linears) {
      kernel.dispose();
      bias.dispose();
    }
  }
}

interface LstmDirection {
  inputKernel: LayerVariable;
  recurrentKernel: LayerVariable;
  inputBias: LayerVariable;
  recurrentBias: LayerVariable;
}

/**
 * P-tuning's LSTM encoder: torch's bidirectional, batch-first `nn.LSTM(d, h, num_layers,
 * dropout)` (gates i, f, g, o; dropout on the outputs of every layer but the last, in training),
 * then `Linear(2h, 2h) – ReLU – Linear(2h, d)`.
 */
export class LstmHead implements PromptHead {
  readonly params = new Map<string, ParamRef>();
  private readonly layers: Array<[LstmDirection, LstmDirection]> = [];
  private readonly mlp: MlpHead;

  constructor(
    inputSize: number,
    private readonly hiddenSize: number,
    numLayers: number,
    private readonly dropout: number,
    outputSize: number,
    variablePrefix: string,
  ) {
    for (let layer = 0; layer < numLayers; layer++) {
      const layerInput = layer === 0 ? inputSize : 2 * hiddenSize;
      const direction = (suffix: string): LstmDirection => {
        const make = (name: string, shape: number[], transpose: boolean) => {
          const variable = ownedVariable(uniformInit(shape, hiddenSize), `${variablePrefix}lstm_head.${name}${suffix}`);
          this.params.set(`lstm_head.${name}${suffix}`, transpose ? kernelParam(variable) : plainParam(variable));
          return variable;
        };
        return {
          inputKernel: make(`weight_ih_l${layer}`, [layerInput, 4 * hiddenSize], true),
          recurrentKernel: make(`weight_hh_l${layer}`, [hiddenSize, 4 * hiddenSize], true),
          inputBias: make(`bias_ih_l${layer}`, [4 * hiddenSize], false),
          recurrentBias: make(`bias_hh_l${layer}`, [4 * hiddenSize], false),
        };
      };
      this.layers.push([direction(''), direction('_reverse')]);
    }
    this.mlp = new MlpHead('mlp_head', [2 * hiddenSize, 2 * hiddenSize, outputSize], 'relu', variablePrefix);
    for (const [name, param] of this.mlp.params) this.params.set(name, param);
  }

  private run(sequence: tf.Tensor2D, weights: LstmDirection, reverse: boolean): tf.Tensor2D {
    const steps = sequence.shape[0];
    const h = this.hiddenSize;
    // Input projections of every step at once: [steps, 4h].
    const projected = tf.add(tf.add(tf.matMul(sequence, weights.inputKernel.read()), weights.inputBias.read()), weights.recurrentBias.read());
    let hidden: tf.Tensor2D = tf.zeros([1, h]);
    let cell: tf.Tensor2D = tf.zeros([1, h]);
    const outputs = new Array<tf.Tensor2D>(steps);
    for (let offset = 0; offset < steps; offset++) {
      const t = reverse ? steps - 1 - offset : offset;
      const gates = tf.add(tf.slice(projected, [t, 0], [1, 4 * h]), tf.matMul(hidden, weights.recurrentKernel.read()));
      const [i, f, g, o] = tf.split(gates, 4, 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
      cell = tf.add(tf.mul(tf.sigmoid(f), cell), tf.mul(tf.sigmoid(i), tf.tanh(g)));
      hidden = tf.mul(tf.sigmoid(o), tf.tanh(cell));
      outputs[t] = hidden;
    }
    return tf.concat(outputs, 0);
  }

  /** The bidirectional LSTM alone: `[steps, in]` → `[steps, 2h]` (forward and backward outputs concatenated). */
  recurrent(input: tf.Tensor2D, training = false): tf.Tensor2D {
    let sequence = input;
    this.layers.forEach(([forward, backward], index) => {
      sequence = tf.concat([this.run(sequence, forward, false), this.run(sequence, backward, true)], 1);
      if (training && this.dropout > 0 && index < this.layers.length - 1) sequence = tf.dropout(sequence, this.dropout) as tf.Tensor2D;
    });
    return sequence;
  }

  apply(input: tf.Tensor2D, training: boolean): tf.Tensor2D {
    return this.mlp.apply(this.recurrent(input, training));
  }

  dispose(): void {
    for (const directions of this.layers) {
      for (const weights of directions) for (const variable of Object.values(weights)) variable.dispose();
    }
    this.mlp.dispose();
  }
}
