/**
 * @peftjs/prompt-tuning next to @peftjs/lora: trainable parameters and one training step of a
 * small LLaMA (hidden 256, 4 layers, vocabulary 1000; batch 4 × 64 tokens, Adam, causal-LM loss)
 * for prompt tuning, P-tuning (MLP, LSTM) and prefix tuning (with and without projection), 20
 * virtual tokens each, and LoRA (r = 8 on q_proj, v_proj). wasm backend with @peftjs/runtime's
 * fixes. Prompt tuning and P-tuning lengthen the sequence by the 20 virtual tokens.
 */
import '@tensorflow/tfjs-backend-cpu';

import * as tf from '@tensorflow/tfjs-core';
import { getPeftModel, registerTuner, setWarningHandler, type PeftModel } from '@peftjs/core';
import { ia3 } from '@peftjs/ia3';
import { createLoraConfig, lora } from '@peftjs/lora';
import { AutoModelForCausalLM, causalLmLoss } from '@peftjs/models';
import { forwardCausalLm, pTuning, prefixTuning, promptTuning } from '@peftjs/prompt-tuning';
import { initBackend } from '@peftjs/runtime';

import { Bench, runMain } from './harness';

const config = {
  model_type: 'llama',
  hidden_size: 256,
  intermediate_size: 688,
  num_hidden_layers: 4,
  num_attention_heads: 4,
  num_key_value_heads: 4,
  vocab_size: 1000,
  max_position_embeddings: 1024,
};
const BATCH = 4;
const SEQ = 64;
const VIRTUAL = 20;

await runMain(async () => {
  await initBackend({ backend: 'wasm' });
  setWarningHandler(() => {});
  for (const tuner of [lora, ia3, promptTuning, pTuning, prefixTuning]) registerTuner(tuner);
  const bench = new Bench(
    'prompt-methods',
    `LLaMA hidden 256 × 4 layers, batch ${BATCH} × ${SEQ}: training step and trainable parameters per method (${VIRTUAL} virtual tokens), next to LoRA`,
  );
  const ids = tf.tensor2d(
    Array.from({ length: BATCH }, (_, row) => Array.from({ length: SEQ }, (_, index) => (row * 131 + index * 37 + 11) % config.vocab_size)),
    [BATCH, SEQ],
    'int32',
  );
  const mask = tf.ones([BATCH, SEQ]);

  const stepper = (peftModel: PeftModel, prompt: boolean) => {
    const optimizer = tf.train.adam(1e-3);
    return async () => {
      const loss = optimizer.minimize(() => {
        if (prompt) {
          const { logits, loss: value } = forwardCausalLm(peftModel, { inputIds: ids, attentionMask: mask, labels: ids, training: true });
          logits.dispose();
          return value!;
        }
        return causalLmLoss(ids, peftModel.model.apply([ids, mask], { training: true }) as tf.Tensor);
      }, true)!;
      await loss.data();
      loss.dispose();
    };
  };

  const methods: Array<[string, Record<string, unknown>]> = [
    ['LoRA (r=8, q_proj + v_proj)', createLoraConfig({ r: 8, loraAlpha: 16, targetModules: ['q_proj', 'v_proj'] }) as unknown as Record<string, unknown>],
    ['IA3 (llama defaults: k_proj, v_proj, down_proj)', { peft_type: 'IA3', task_type: 'CAUSAL_LM' }],
    ['prompt tuning', { peft_type: 'PROMPT_TUNING', num_virtual_tokens: VIRTUAL, task_type: 'CAUSAL_LM' }],
    ['P-tuning (MLP)', { peft_type: 'P_TUNING', num_virtual_tokens: VIRTUAL, task_type: 'CAUSAL_LM' }],
    ['P-tuning (LSTM)', { peft_type: 'P_TUNING', num_virtual_tokens: VIRTUAL, task_type: 'CAUSAL_LM', encoder_reparameterization_type: 'LSTM' }],
    ['prefix tuning', { peft_type: 'PREFIX_TUNING', num_virtual_tokens: VIRTUAL, task_type: 'CAUSAL_LM' }],
    ['prefix tuning (projection)', { peft_type: 'PREFIX_TUNING', num_virtual_tokens: VIRTUAL, task_type: 'CAUSAL_LM', prefix_projection: true }],
  ];
  const trainable: Record<string, number> = {};
  const cases = methods.map(([name, peftConfig]) => {
    const peftModel = getPeftModel(AutoModelForCausalLM.fromConfig(config, { seed: 1 }), peftConfig);
    trainable[name] = peftModel.getNbTrainableParameters()[0];
    return {
      name: `${name} step`,
      run: stepper(peftModel, !['LORA', 'IA3'].includes(peftConfig.peft_type as string)),
      note: peftModel.trainableParametersReport(),
      repetitions: 8,
    };
  });
  await bench.interleaved(cases);
  for (const [name] of methods.slice(1)) bench.compare(`${name} step time / LoRA step time (inverse)`, 'LoRA (r=8, q_proj + v_proj) step', `${name} step`);
  bench.finish({ trainableParameters: trainable, config, batch: BATCH, seq: SEQ, virtualTokens: VIRTUAL });
});
