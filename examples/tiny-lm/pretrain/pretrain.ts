/**
 * Pretrains the tiny LLaMA that ships in ../base, from nothing but this folder's scripts:
 *
 *   1. makes a synthetic corpus (world.ts: short stories about a few animals and people),
 *   2. trains a 512-token byte-level BPE tokenizer on it (byte-level-bpe.ts) and checks it with
 *      @huggingface/tokenizers,
 *   3. trains a LlamaForCausalLM (hidden 128, 4 layers, 4 heads) on it with Adam, on the wasm
 *      backend,
 *   4. writes base/: config.json, generation_config.json, model.safetensors (transformers' names
 *      and layouts), tokenizer.json, tokenizer_config.json, special_tokens_map.json, README.md.
 *
 * Run: pnpm --filter @peftjs/example-tiny-lm pretrain  [-- --steps 1200]
 * About 20 minutes on 2 CPU cores. Same steps + same machine kind → the same weights.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, formatBackendReport } from '@peftjs/runtime';
import { AutoModelForCausalLM, causalLmLoss } from '@peftjs/models';
import { loadTokenizer, saveTransformersModel } from '@peftjs/cli';
import { makeCorpus } from './world';
import { tokenizerJson, trainByteLevelBpe } from './byte-level-bpe';

const argument = (name: string, fallback: number) => {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
};
const STEPS = argument('steps', 1200);
const BATCH = argument('batch', 16);
const SEQ = argument('seq', 64);
const STORIES = argument('stories', 40000);
const PEAK_LR = 3e-3;
const WARMUP = 100;
const EOS = '<|endoftext|>';
const out = fileURLToPath(new URL('../base/', import.meta.url));

export const CONFIG = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  vocab_size: 512,
  hidden_size: 128,
  intermediate_size: 256,
  num_hidden_layers: 4,
  num_attention_heads: 4,
  num_key_value_heads: 4,
  hidden_act: 'silu',
  max_position_embeddings: 256,
  initializer_range: 0.02,
  rms_norm_eps: 1e-6,
  rope_theta: 10000.0,
  rope_scaling: null,
  attention_bias: false,
  attention_dropout: 0.0,
  mlp_bias: false,
  pretraining_tp: 1,
  tie_word_embeddings: false,
  use_cache: true,
  bos_token_id: 511,
  eos_token_id: 511,
  pad_token_id: 511,
  torch_dtype: 'float32',
  transformers_version: '4.40.2',
};

async function main(): Promise<void> {
  console.log(formatBackendReport(await initBackend()));
  await mkdir(out, { recursive: true });

  const stories = makeCorpus(STORIES);
  console.log(`corpus: ${stories.length} stories, ${stories.reduce((sum, text) => sum + text.length, 0)} characters`);
  const bpe = trainByteLevelBpe(stories, { vocabSize: CONFIG.vocab_size, specialTokens: [EOS] });
  await writeFile(join(out, 'tokenizer.json'), `${JSON.stringify(tokenizerJson(bpe), null, 2)}\n`);
  const special = { bos_token: EOS, eos_token: EOS, pad_token: EOS, unk_token: EOS };
  await writeFile(
    join(out, 'tokenizer_config.json'),
    `${JSON.stringify({ tokenizer_class: 'PreTrainedTokenizerFast', model_max_length: CONFIG.max_position_embeddings, clean_up_tokenization_spaces: false, add_prefix_space: false, ...special }, null, 2)}\n`,
  );
  await writeFile(join(out, 'special_tokens_map.json'), `${JSON.stringify(special, null, 2)}\n`);

  const tokenizer = await loadTokenizer(out);
  for (const sample of stories.slice(0, 200)) {
    if (tokenizer.decode(tokenizer.encode(sample)) !== sample) throw new Error(`tokenizer round trip failed on: ${sample}`);
  }
  const stream: number[] = [];
  for (const text of stories) stream.push(...tokenizer.encode(text), tokenizer.eosTokenId!);
  console.log(`tokens: ${stream.length} (${(stream.length / stories.length).toFixed(1)} per story); ${STEPS} steps × ${BATCH} × ${SEQ} = ${STEPS * BATCH * SEQ} tokens seen`);

  const model = AutoModelForCausalLM.fromConfig(CONFIG, { seed: 42 });
  console.log(`parameters: ${model.countParams().toLocaleString('en-US')}`);
  const optimizer = tf.train.adam(PEAK_LR, 0.9, 0.95);
  const windows = Math.floor((stream.length - 1) / SEQ);
  let cursor = 0;
  const started = performance.now();
  let average = 0;
  for (let step = 0; step < STEPS; step++) {
    const lr = step < WARMUP ? (PEAK_LR * (step + 1)) / WARMUP : 0.1 * PEAK_LR + 0.9 * PEAK_LR * 0.5 * (1 + Math.cos((Math.PI * (step - WARMUP)) / (STEPS - WARMUP)));
    (optimizer as unknown as { learningRate: number }).learningRate = lr;
    const rows: number[][] = [];
    for (let row = 0; row < BATCH; row++) {
      const start = (cursor++ % windows) * SEQ;
      rows.push(stream.slice(start, start + SEQ));
    }
    const ids = tf.tensor2d(rows, [BATCH, SEQ], 'int32');
    const mask = tf.ones([BATCH, SEQ]);
    const loss = optimizer.minimize(() => causalLmLoss(ids, model.apply([ids, mask], { training: true }) as tf.Tensor), true)!;
    const value = (await loss.data())[0]!;
    tf.dispose([loss, ids, mask]);
    average = step === 0 ? value : 0.98 * average + 0.02 * value;
    if (step % 50 === 0 || step === STEPS - 1) {
      const seconds = (performance.now() - started) / 1000;
      console.log(
        `step ${step + 1}/${STEPS}  loss ${value.toFixed(3)} (avg ${average.toFixed(3)})  lr ${lr.toExponential(2)}  ${(((step + 1) * BATCH * SEQ) / seconds).toFixed(0)} tok/s  ${seconds.toFixed(0)} s`,
      );
    }
  }

  await saveTransformersModel(model, out, { config: CONFIG });
  await writeFile(join(out, 'generation_config.json'), `${JSON.stringify({ bos_token_id: 511, eos_token_id: 511, pad_token_id: 511, transformers_version: '4.40.2' }, null, 2)}\n`);
  console.log(`wrote ${out} (final smoothed loss ${average.toFixed(3)}, ${((performance.now() - started) / 1000).toFixed(0)} s)`);
}

await main();
