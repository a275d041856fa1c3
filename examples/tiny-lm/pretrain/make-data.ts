/**
 * Writes the fine-tuning data set: questions about the animals of world.ts, answered in one
 * sentence. The base model read these facts in stories but never saw a question or an answer;
 * the LoRA adapter teaches it the format. Four animals are held out (data/qa-eval.jsonl) to show
 * the adapter answers about animals it was not tuned on.
 *
 * Run: pnpm --filter @peftjs/example-tiny-lm make-data
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { ANIMALS, HELD_OUT, qaRows } from './world';

const data = fileURLToPath(new URL('../data/', import.meta.url));
const lines = (rows: object[]) => `${rows.map((row) => JSON.stringify(row)).join('\n')}\n`;
const train = ANIMALS.filter((animal) => !HELD_OUT.includes(animal.name)).flatMap(qaRows);
const evaluation = ANIMALS.filter((animal) => HELD_OUT.includes(animal.name)).flatMap(qaRows);
await writeFile(`${data}qa-train.jsonl`, lines(train));
await writeFile(`${data}qa-eval.jsonl`, lines(evaluation));
console.log(`wrote ${train.length} training rows and ${evaluation.length} held-out rows to ${data}`);
