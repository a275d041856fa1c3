import { readdirSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createSeededRandom } from '@peftjs/core';

/** Builds safetensors bytes from a header (object or raw text) and a data section, unvalidated. */
export function buildSafetensorsBytes(
  header: Record<string, unknown> | string,
  data: Uint8Array = new Uint8Array(0),
  options: { headerLength?: bigint; pad?: boolean } = {},
): Uint8Array {
  let json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  if (options.pad !== false && json.byteLength % 8 !== 0) {
    const padded = new Uint8Array(Math.ceil(json.byteLength / 8) * 8).fill(0x20);
    padded.set(json);
    json = padded;
  }
  const bytes = new Uint8Array(8 + json.byteLength + data.byteLength);
  new DataView(bytes.buffer).setBigUint64(0, options.headerLength ?? BigInt(json.byteLength), true);
  bytes.set(json, 8);
  bytes.set(data, 8 + json.byteLength);
  return bytes;
}

/** The repository's Python-written fixtures (safetensors 0.4.3): every `*.safetensors` file. */
export const FIXTURES_ROOT = fileURLToPath(new URL('../../../../test-fixtures/peft/', import.meta.url));

export function listFixtureSafetensors(): string[] {
  const files: string[] = [];
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = `${folder}/${entry.name}`;
      if (entry.isDirectory()) {
        walk(path);
      } else if (entry.name.endsWith('.safetensors')) {
        files.push(path);
      }
    }
  };
  if (existsSync(FIXTURES_ROOT)) {
    walk(FIXTURES_ROOT.replace(/\/$/, ''));
  }
  return files.sort();
}

/** A small deterministic PRNG for fuzzing (core's mulberry32). */
export const createRandom: (seed: number) => () => number = createSeededRandom;
