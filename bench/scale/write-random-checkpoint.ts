import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { checkpointTensors, type ModelShape } from './model-shapes';

const INIT_STD = 0.02;

/**
 * Writes `config.json` + `model.safetensors` (float32) for a shape into `folder`, with
 * transformers' initialisation (normal(0, 0.02) matrices, unit norm weights, zero biases),
 * streamed tensor by tensor so that even the 1.1B checkpoint never sits in memory. A folder
 * already written for the same config is reused.
 */
export function writeRandomCheckpoint(shape: ModelShape, folder: string, seed = 1): void {
  const configText = JSON.stringify({ ...shape.config, torch_dtype: 'float32' }, null, 2);
  const done = join(folder, '.complete');
  if (existsSync(done) && readFileSync(done, 'utf8') === configText) return;
  mkdirSync(folder, { recursive: true });
  const specs = checkpointTensors(shape);
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const spec of specs) {
    const bytes = spec.shape.reduce((a, b) => a * b, 1) * 4;
    header[spec.name] = { dtype: 'F32', shape: spec.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let headerText = JSON.stringify(header);
  headerText += ' '.repeat((8 - (headerText.length % 8)) % 8);
  const partial = join(folder, 'model.safetensors.partial');
  const file = openSync(partial, 'w');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(Buffer.byteLength(headerText)));
  writeSync(file, length);
  writeSync(file, headerText);
  // xorshift32 → Box–Muller: deterministic for a seed, fast enough for a billion values.
  let state = seed >>> 0 || 1;
  const uniform = () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return (state + 1) / 4294967297;
  };
  const chunk = new Float32Array(1 << 20);
  for (const spec of specs) {
    let remaining = spec.shape.reduce((a, b) => a * b, 1);
    while (remaining > 0) {
      const size = Math.min(remaining, chunk.length);
      if (spec.fill === 'normal') {
        for (let index = 0; index < size; index += 2) {
          const radius = Math.sqrt(-2 * Math.log(uniform())) * INIT_STD;
          const angle = 2 * Math.PI * uniform();
          chunk[index] = radius * Math.cos(angle);
          if (index + 1 < size) chunk[index + 1] = radius * Math.sin(angle);
        }
      } else {
        chunk.fill(spec.fill === 'ones' ? 1 : 0, 0, size);
      }
      writeSync(file, new Uint8Array(chunk.buffer, 0, size * 4));
      remaining -= size;
    }
  }
  closeSync(file);
  renameSync(partial, join(folder, 'model.safetensors'));
  writeFileSync(join(folder, 'config.json'), configText);
  writeFileSync(done, configText);
}
