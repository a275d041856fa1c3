import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertClose } from '@peftjs/core/testing';
import { LstmHead, MlpHead } from './prompt-head';

beforeAll(async () => {
  await tf.setBackend('wasm');
});

describe('prompt encoder heads', () => {
  it("the LSTM is torch's bidirectional LSTM: equal to tfjs' LSTM layers with the same weights (gates i, f, g, o; b_ih + b_hh)", async () => {
    const [steps, input, hidden] = [5, 6, 4];
    const before = tf.memory().numTensors;
    const head = new LstmHead(input, hidden, 2, 0, input, 'test/');
    const sequence = tf.randomNormal([steps, input], 0, 1, 'float32', 1) as tf.Tensor2D;
    const ours = tf.tidy(() => head.recurrent(sequence));
    const param = (name: string) => head.params.get(`lstm_head.${name}`)!.variable.read();
    let reference: tf.Tensor = tf.expandDims(sequence, 0);
    const layers: tfl.layers.Layer[] = [];
    for (let layer = 0; layer < 2; layer++) {
      const bidirectional = tfl.layers.bidirectional({
        layer: tfl.layers.lstm({ units: hidden, returnSequences: true, recurrentActivation: 'sigmoid', recurrentInitializer: 'zeros' }) as tfl.RNN,
        mergeMode: 'concat',
      });
      bidirectional.build([1, steps, layer === 0 ? input : 2 * hidden]);
      tf.tidy(() => {
        const weights = ['', '_reverse'].flatMap((suffix) => [
          param(`weight_ih_l${layer}${suffix}`),
          param(`weight_hh_l${layer}${suffix}`),
          tf.add(param(`bias_ih_l${layer}${suffix}`), param(`bias_hh_l${layer}${suffix}`)),
        ]);
        bidirectional.setWeights(weights);
      });
      const next = bidirectional.apply(reference) as tf.Tensor;
      reference.dispose();
      reference = next;
      layers.push(bidirectional);
    }
    const squeezed = tf.squeeze(reference, [0]);
    await assertClose(ours, squeezed, { atol: 1e-5, rtol: 1e-5 });
    // Torch layouts: weight_ih [4h, in], weight_hh [4h, h], biases [4h]; mlp_head Linear(2h, 2h), Linear(2h, out).
    expect(head.params.get('lstm_head.weight_ih_l0')!.torchShape).toEqual([16, input]);
    expect(head.params.get('lstm_head.weight_ih_l1')!.torchShape).toEqual([16, 2 * hidden]);
    expect(head.params.get('lstm_head.weight_hh_l1_reverse')!.torchShape).toEqual([16, hidden]);
    expect(head.params.get('mlp_head.0.weight')!.torchShape).toEqual([8, 8]);
    expect(head.params.get('mlp_head.2.weight')!.torchShape).toEqual([input, 8]);
    tf.dispose([ours, reference, squeezed, sequence]);
    for (const layer of layers) for (const weight of layer.weights) weight.dispose();
    head.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the MLP is Linear – act – Linear … with torch names at even indices', async () => {
    const before = tf.memory().numTensors;
    const head = new MlpHead('mlp_head', [4, 3, 3, 4], 'relu', 'test/');
    expect([...head.params.keys()]).toEqual(['mlp_head.0.weight', 'mlp_head.0.bias', 'mlp_head.2.weight', 'mlp_head.2.bias', 'mlp_head.4.weight', 'mlp_head.4.bias']);
    const x = tf.randomNormal([2, 4], 0, 1, 'float32', 2) as tf.Tensor2D;
    const w = (index: number) => [head.params.get(`mlp_head.${index}.weight`)!.variable.read(), head.params.get(`mlp_head.${index}.bias`)!.variable.read()] as const;
    const expected = tf.tidy(() => {
      let h = tf.relu(tf.add(tf.matMul(x, w(0)[0]), w(0)[1]));
      h = tf.relu(tf.add(tf.matMul(h, w(2)[0]), w(2)[1]));
      return tf.add(tf.matMul(h, w(4)[0]), w(4)[1]);
    });
    const actual = tf.tidy(() => head.apply(x));
    await assertClose(actual, expected);
    tf.dispose([x, expected, actual]);
    head.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
