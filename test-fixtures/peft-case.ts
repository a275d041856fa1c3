import { readFile } from 'node:fs/promises';
import type * as tf from '@tensorflow/tfjs-core';
import { loadSafetensors } from '@peftjs/hub';
import { peftFixturePath as fixturePath } from './index';

/** One Python PEFT reference case with its io tensors and data rows (the models' parity tests). */
export interface PeftCase {
  name: string;
  json: Record<string, any>;
  baseDir: string;
  /** The case's io.safetensors; the caller disposes. */
  io: Record<string, tf.Tensor>;
  /** data.jsonl rows (causal LMs; the input_ids of seq2seq rows). */
  rows: number[][];
  /** Seq2seq cases: data.jsonl's labels, row by row. */
  labelRows: number[][];
}

export async function loadPeftCase(name: string): Promise<PeftCase> {
  const json = JSON.parse(await readFile(fixturePath(name, 'case.json'), 'utf8'));
  const io = await loadSafetensors(fixturePath(name, 'io.safetensors'));
  const data = await readFile(fixturePath(name, 'data.jsonl'), 'utf8').catch(() => '');
  const lines = data
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as { input_ids: number[]; labels?: number[] });
  const rows = lines.map((line) => line.input_ids);
  const labelRows = lines.flatMap((line) => (line.labels ? [line.labels] : []));
  return { name, json, baseDir: fixturePath(name, 'base'), io, rows, labelRows };
}
