import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Absolute path of a file or folder under test-fixtures/peft. */
export function peftFixturePath(...segments: string[]): string {
  return fileURLToPath(new URL(['peft', ...segments].join('/'), import.meta.url));
}

/** The parsed case.json of a PEFT reference case. */
export function peftCase(name: string): Record<string, any> {
  return JSON.parse(readFileSync(peftFixturePath(name, 'case.json'), 'utf8'));
}

/** Absolute path of a file or folder under test-fixtures/peft-train. */
export function peftTrainFixturePath(...segments: string[]): string {
  return fileURLToPath(new URL(['peft-train', ...segments].join('/'), import.meta.url));
}
