/**
 * @peftjs/adaption-prompt and multitask prompt tuning next to LoRA and prompt tuning: one
 * training step and one KV-cached generation of a small LLaMA (hidden 256, 4 layers, vocabulary
 * 1000; batch 4 × 64 tokens, Adam, causal-LM loss), wasm backend with @peftjs/runtime's fixes.
 * Adaption prompt: adapter_len 10 on the top 2 layers; multitask prompt tuning: 20 virtual
 * tokens, 4 tasks, rank 1, a different task per row.
 */
import * as tf from '@tensorflow/tfjs-core';
import { getPeftModel, registerTuner, setWarningHandler, type PeftModel } from '@peftjs/core';
import { adaptionPrompt } from '@peftjs/adaption-prompt';
import { createLoraConfig, lora } from '@peftjs/lora';
import { AutoModelForCausalLM, causalLmLoss, generate as generateIds } from '@peftjs/models';
import { forwardCausalLm, multitaskPromptTuning, promptTuning } from '@peftjs/prompt-tuning';
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
const TASK_IDS = [0, 1, 2, 3];

await runMain(async () => {
  await initBackend({ backend: 'wasm' });
  setWarningHandler(() => {});
  for (const tuner of [lora, promptTuning, multitaskPromptTuning, adaptionPrompt]) registerTuner(tuner);
  const bench = new Bench('adaption-and-multitask', `LLaMA hidden 256 × 4 layers, batch ${BATCH} × ${SEQ}: training step and 16-token generation per method, next to LoRA`);
  const rows = Array.from({ length: BATCH }, (_, row) => Array.from({ length: SEQ }, (_, index) => (row * 131 + index * 37 + 11) % config.vocab_size));
  const ids = tf.tensor2d(rows, [BATCH, SEQ], 'int32');
  const mask = tf.ones([BATCH, SEQ]);

  type Kind = 'layer' | 'prompt' | 'multitask';
  const stepper = (peftModel: PeftModel, kind: Kind) => {
    const optimizer = tf.train.adam(1e-3);
    return async () => {
      const loss = optimizer.minimize(() => {
        if (kind !== 'layer') {
          const { logits, loss: value } = forwardCausalLm(peftModel, {
            inputIds: ids,
            attentionMask: mask,
            labels: ids,
            training: true,
            ...(kind === 'multitask' ? { taskIds: TASK_IDS } : {}),
          });
          logits.dispose();
          return value!;
        }
        return causalLmLoss(ids, peftModel.model.apply([ids, mask], { training: true }) as tf.Tensor);
      }, true)!;
      await loss.data();
      loss.dispose();
    };
  };
  const generator = (peftModel: PeftModel, kind: Kind) => async () => {
    const options = { maxNewTokens: 16, eosTokenId: null, ...(kind === 'multitask' ? { taskIds: TASK_IDS } : {}) };
    await generateIds(peftModel, rows, options);
  };

  const methods: Array<[string, Record<string, unknown>, Kind]> = [
    ['LoRA (r=8, q_proj + v_proj)', createLoraConfig({ r: 8, loraAlpha: 16, targetModules: ['q_proj', 'v_proj'] }) as unknown as Record<string, unknown>, 'layer'],
    ['adaption prompt (len 10, top 2 layers)', { peft_type: 'ADAPTION_PROMPT', adapter_len: 10, adapter_layers: 2, task_type: 'CAUSAL_LM' }, 'layer'],
    ['prompt tuning (20 tokens)', { peft_type: 'PROMPT_TUNING', num_virtual_tokens: 20, task_type: 'CAUSAL_LM' }, 'prompt'],
    ['multitask prompt tuning (20 tokens, 4 tasks)', { peft_type: 'MULTITASK_PROMPT_TUNING', num_virtual_tokens: 20, num_tasks: 4, task_type: 'CAUSAL_LM' }, 'multitask'],
  ];
  const trainable: Record<string, number> = {};
  const cases = methods.flatMap(([name, peftConfig, kind]) => {
    const peftModel = getPeftModel(AutoModelForCausalLM.fromConfig(config, { seed: 1 }), peftConfig);
    trainable[name] = peftModel.getNbTrainableParameters()[0];
    return [
      { name: `${name} step`, run: stepper(peftModel, kind), note: peftModel.trainableParametersReport(), repetitions: 6 },
      { name: `${name} generate`, run: generator(peftModel, kind), note: '16 new tokens, KV cache, greedy', repetitions: 3 },
    ];
  });
  await bench.interleaved(cases);
  for (const [name] of methods.slice(1)) {
    bench.compare(`${name} step time / LoRA step time (inverse)`, 'LoRA (r=8, q_proj + v_proj) step', `${name} step`);
    bench.compare(`${name} generate time / LoRA generate time (inverse)`, 'LoRA (r=8, q_proj + v_proj) generate', `${name} generate`);
  }
  bench.finish({ trainableParameters: trainable, config, batch: BATCH, seq: SEQ });
});
