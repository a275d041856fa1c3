import { readFileSync } from 'node:fs';
import type * as tf from '@tensorflow/tfjs-core';
import { loadSafetensors } from '@peftjs/hub';
import { peftCase, peftFixturePath } from '../../../../test-fixtures/index';

export interface FixtureCase {
  name: string;
  json: Record<string, any>;
  baseDir: string;
  adapterDir: string;
  /** io.safetensors; the caller disposes. */
  io: Record<string, tf.Tensor>;
  /** data.jsonl rows. */
  rows: number[][];
}

export async function loadFixtureCase(name: string): Promise<FixtureCase> {
  const rows = readFileSync(peftFixturePath(name, 'data.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line).input_ids as number[]);
  return {
    name,
    json: peftCase(name),
    baseDir: peftFixturePath(name, 'base'),
    adapterDir: peftFixturePath(name, 'adapter'),
    io: await loadSafetensors(peftFixturePath(name, 'io.safetensors')),
    rows,
  };
}

export function fixtureAdapterConfig(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(peftFixturePath(name, 'adapter', 'adapter_config.json'), 'utf8'));
}
