import { fileURLToPath } from 'node:url';

/** The Python PEFT reference cases copied into the repository (test-fixtures/peft). */
export const PEFT_FIXTURES = fileURLToPath(new URL('../../../../test-fixtures/peft/', import.meta.url));

export function fixturePath(...parts: string[]): string {
  return PEFT_FIXTURES + parts.join('/');
}
