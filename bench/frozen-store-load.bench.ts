/**
 * Loading a ~1.1B-parameter checkpoint (TinyLlama-1.1B's shape, random bfloat16 values written
 * here to /tmp, 2.2 GB; reused across runs) through the frozen-weight store: bfloat16 storage
 * (mapped in place), float16 / int8 / nf4 / nf4 with double quantisation (converted in native
 * memory from the mapping), each in a fresh child process: wall time to a usable model, the
 * process's peak RSS, native bytes held, wasm heap bytes, and one forward pass (1 × 16 tokens)
 * to show it runs. Without the addon the run says so and stops.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Bench, runMain } from './harness';

const FOLDER = process.env.BENCH_1B_DIR ?? '/tmp/peftjs-bench-tinyllama-1b';
const CONFIG = {
  model_type: 'llama',
  architectures: ['LlamaForCausalLM'],
  vocab_size: 32000,
  hidden_size: 2048,
  intermediate_size: 5632,
  num_hidden_layers: 22,
  num_attention_heads: 32,
  num_key_value_heads: 4,
  max_position_embeddings: 2048,
  rms_norm_eps: 1e-5,
  rope_theta: 10000,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
};

function tensorsOf(config: typeof CONFIG): Array<[string, number[]]> {
  const { hidden_size: h, intermediate_size: i, num_attention_heads: heads, num_key_value_heads: kv, vocab_size: v } = config;
  const kvSize = (h / heads) * kv;
  const list: Array<[string, number[]]> = [['model.embed_tokens.weight', [v, h]]];
  for (let layer = 0; layer < config.num_hidden_layers; layer++) {
    const p = `model.layers.${layer}`;
    list.push(
      [`${p}.input_layernorm.weight`, [h]],
      [`${p}.self_attn.q_proj.weight`, [h, h]],
      [`${p}.self_attn.k_proj.weight`, [kvSize, h]],
      [`${p}.self_attn.v_proj.weight`, [kvSize, h]],
      [`${p}.self_attn.o_proj.weight`, [h, h]],
      [`${p}.post_attention_layernorm.weight`, [h]],
      [`${p}.mlp.gate_proj.weight`, [i, h]],
      [`${p}.mlp.up_proj.weight`, [i, h]],
      [`${p}.mlp.down_proj.weight`, [h, i]],
    );
  }
  list.push(['model.norm.weight', [h]], ['lm_head.weight', [v, h]]);
  return list;
}

/** Writes the checkpoint (random bf16 ~ N(0, 0.02)-sized values, norms = 1) unless it is there. */
function writeCheckpoint(): { parameters: number; bytes: number } {
  const tensors = tensorsOf(CONFIG);
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  let parameters = 0;
  for (const [name, shape] of tensors) {
    const count = shape.reduce((product, size) => product * size, 1);
    header[name] = { dtype: 'BF16', shape, data_offsets: [offset, offset + count * 2] };
    offset += count * 2;
    parameters += count;
  }
  const path = join(FOLDER, 'model.safetensors');
  if (existsSync(path)) return { parameters, bytes: offset };
  mkdirSync(FOLDER, { recursive: true });
  writeFileSync(join(FOLDER, 'config.json'), JSON.stringify(CONFIG, null, 2));
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((json.length + 8) % 8)) % 8);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  const fd = openSync(`${path}.partial`, 'w');
  writeSync(fd, prefix);
  writeSync(fd, json);
  let state = 12345;
  const chunk = new Uint16Array(1 << 22);
  for (const [name, shape] of tensors) {
    let left = shape.reduce((product, size) => product * size, 1);
    const norm = name.endsWith('norm.weight');
    while (left > 0) {
      const count = Math.min(left, chunk.length);
      for (let index = 0; index < count; index++) {
        state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
        // bf16 with exponent 2^-6..2^-5 (|x| in [0.0156, 0.03)), a random sign and mantissa
        chunk[index] = norm ? 0x3f80 : ((state >>> 31) << 15) | (0x79 << 7) | ((state >>> 8) & 0x7f);
      }
      writeSync(fd, new Uint8Array(chunk.buffer, 0, count * 2));
      left -= count;
    }
  }
  closeSync(fd);
  spawnSync('mv', [`${path}.partial`, path]);
  return { parameters, bytes: offset };
}

const child = process.argv.includes('--child');

async function childMain(): Promise<void> {
  const storage = JSON.parse(process.argv[process.argv.indexOf('--child') + 1]!) as Record<string, unknown>;
  const tf = await import('@tensorflow/tfjs-core');
  const { initBackend } = await import('@peftjs/runtime');
  const models = await import('@peftjs/models');
  await initBackend({ backend: 'wasm' });
  const start = performance.now();
  const model = await models.AutoModelForCausalLM.fromPretrained(FOLDER, storage);
  const loadSeconds = (performance.now() - start) / 1000;
  const addon = models.nativeStore();
  const stats = addon?.storeStats();
  const ids = tf.tensor2d([Array.from({ length: 16 }, (_, index) => index + 1)], [1, 16], 'int32');
  const forwardStart = performance.now();
  const logits = model.predict([ids, tf.onesLike(ids)]) as import('@tensorflow/tfjs-core').Tensor;
  const values = await logits.data();
  const forwardSeconds = (performance.now() - forwardStart) / 1000;
  const { readFileSync } = await import('node:fs');
  const peak = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  console.log(
    JSON.stringify({
      loadSeconds,
      forwardSeconds,
      finite: values.every(Number.isFinite),
      peakRssBytes: peak ? Number(peak) * 1024 : null,
      nativeBytes: stats?.bytes ?? null,
      mappedBytes: stats?.mappedBytes ?? null,
      heapBytes: tf.memory().numBytes,
    }),
  );
}

if (child) {
  await childMain();
} else {
  await runMain(async () => {
    const bench = new Bench('frozen-store-load', 'a ~1.1B checkpoint (TinyLlama shape, bf16 on disk) loaded through the frozen-weight store per storage, each in a fresh process');
    const writeStart = performance.now();
    const { parameters, bytes } = writeCheckpoint();
    console.log(
      `checkpoint: ${FOLDER} (${(parameters / 1e9).toFixed(2)}B parameters, ${(bytes / 1e9).toFixed(2)} GB; ready in ${((performance.now() - writeStart) / 1000).toFixed(1)} s)`,
    );
    const self = fileURLToPath(import.meta.url);
    const root = join(dirname(self), '..');
    const rows: Array<Record<string, unknown>> = [];
    for (const [name, storage] of [
      ['bfloat16 (mapped)', { dtype: 'bfloat16', frozenStore: 'native' }],
      ['float16', { dtype: 'float16', frozenStore: 'native' }],
      ['int8', { quantization: 'int8', frozenStore: 'native' }],
      ['nf4', { quantization: 'nf4', frozenStore: 'native' }],
      ['nf4 + double quant', { quantization: 'nf4', doubleQuant: true, frozenStore: 'native' }],
    ] as const) {
      // BENCH_STORAGES=nf4,int8 runs only those
      if (process.env.BENCH_STORAGES && !process.env.BENCH_STORAGES.split(',').some((wanted) => name.startsWith(wanted))) continue;
      const run = spawnSync(join(root, 'node_modules/.bin/tsx'), ['--tsconfig', join(root, 'tsconfig.json'), self, '--child', JSON.stringify(storage)], {
        encoding: 'utf8',
        timeout: 600_000,
      });
      const line = run.stdout
        .trim()
        .split('\n')
        .find((text) => text.startsWith('{'));
      if (run.status !== 0 || !line) {
        console.log(`${name}: failed (${run.status}): ${(run.stderr || run.stdout).trim().split('\n').slice(-3).join(' | ')}`);
        rows.push({ storage: name, failed: (run.stderr || run.stdout).trim().split('\n').slice(-1)[0] });
        continue;
      }
      const result = JSON.parse(line) as Record<string, number | boolean | null>;
      console.log(`  ${name}: ${JSON.stringify(result)}`);
      rows.push({
        storage: name,
        'load s': Number((result.loadSeconds as number).toFixed(2)),
        'forward 1×16 s': Number((result.forwardSeconds as number).toFixed(2)),
        'peak RSS GB': result.peakRssBytes === null ? null : Number(((result.peakRssBytes as number) / 1e9).toFixed(2)),
        'native GB': Number(((result.nativeBytes as number) / 1e9).toFixed(2)),
        'mapped GB': Number(((result.mappedBytes as number) / 1e9).toFixed(2)),
        'wasm heap MB': Number(((result.heapBytes as number) / 1e6).toFixed(0)),
        finite: result.finite,
      });
    }
    console.table(rows);
    bench.finish({ checkpoint: FOLDER, parameters, bytes, rows });
  });
}
