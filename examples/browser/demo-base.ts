// Node-side: where the page's demo base model comes from (used by vite.config.ts and the tests).
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface DemoBase {
  /** The folder served as /demo-base/. */
  dir: string;
  /** Written into adapters as base_model_name_or_path. */
  name: string;
  /** The files served, in the order the page loads them. */
  files: string[];
}

/**
 * The tiny pretrained LLaMA of examples/tiny-lm (with its tokenizer) when it is there; else the
 * LLaMA of the Python PEFT fixtures (test-fixtures/peft/llama-lora/base: no tokenizer, ids in and
 * out).
 */
const CANDIDATES = [
  { dir: fileURLToPath(new URL('../tiny-lm/base/', import.meta.url)), name: 'peftjs/tiny-lm' },
  { dir: fileURLToPath(new URL('../../test-fixtures/peft/llama-lora/base/', import.meta.url)), name: 'peft-fixtures/llama-lora-base' },
];

const SERVED = /^(config\.json|generation_config\.json|model\.safetensors|tokenizer\.json|tokenizer_config\.json|special_tokens_map\.json)$/;

export function findDemoBase(): DemoBase {
  for (const candidate of CANDIDATES) {
    if (existsSync(`${candidate.dir}config.json`) && existsSync(`${candidate.dir}model.safetensors`)) {
      return {
        ...candidate,
        files: readdirSync(candidate.dir)
          .filter((file) => SERVED.test(file))
          .sort(),
      };
    }
  }
  throw new Error(`no demo base model: looked in ${CANDIDATES.map((candidate) => candidate.dir).join(' and ')}`);
}
