// Writes each method's config table into its docs page, between
// `<!-- config-fields: PEFT_TYPE -->` and `<!-- /config-fields -->`, from the schema's field
// descriptions (TunerV1.configFields): the one source of names, types, defaults and help.
// `--check` changes nothing and fails when a page is out of date (CI runs it).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ConfigFieldInfo, TunerV1 } from '@peftjs/core';
import { ia3 } from '@peftjs/ia3';
import { lora } from '@peftjs/lora';
import { prefixTuning, promptTuning, pTuning } from '@peftjs/prompt-tuning';

const root = fileURLToPath(new URL('..', import.meta.url));
const PAGES: ReadonlyArray<{ file: string; tuners: readonly TunerV1<any>[] }> = [
  { file: 'docs/methods/lora.md', tuners: [lora] },
  { file: 'docs/methods/ia3.md', tuners: [ia3] },
  { file: 'docs/methods/prompt-methods.md', tuners: [promptTuning, pTuning, prefixTuning] },
];

const cell = (text: string) => text.replace(/\|/g, '\\|');
const code = (value: unknown) => `\`${cell(JSON.stringify(value))}\``;

function table(fields: readonly ConfigFieldInfo[]): string {
  const rows = fields
    .filter((field) => !field.common)
    .map((field) => {
      const shown = field.required ? 'required' : code(field.defaultValue);
      const choices = field.choices ? ` (${field.choices.map((choice) => code(choice)).join(', ')})` : '';
      return `| \`${field.name}\` | \`${field.property}\` | ${field.type}${choices} | ${shown} | ${cell(field.help)} |`;
    });
  return ['| field | option | type | default | meaning |', '|---|---|---|---|---|', ...rows].join('\n');
}

const check = process.argv.includes('--check');
const stale: string[] = [];
for (const page of PAGES) {
  const path = `${root}${page.file}`;
  let text = readFileSync(path, 'utf8');
  for (const tuner of page.tuners) {
    if (!tuner.configFields) throw new Error(`${tuner.peftType} has no configFields`);
    const pattern = new RegExp(`(<!-- config-fields: ${tuner.peftType} -->\\n)[\\s\\S]*?(<!-- /config-fields -->)`);
    if (!pattern.test(text)) throw new Error(`${page.file} has no <!-- config-fields: ${tuner.peftType} --> … <!-- /config-fields --> markers`);
    text = text.replace(pattern, (_, start: string, end: string) => `${start}${table(tuner.configFields!)}\n${end}`);
  }
  if (text !== readFileSync(path, 'utf8')) {
    stale.push(page.file);
    if (!check) writeFileSync(path, text);
  }
}
if (check && stale.length > 0) {
  console.error(`config tables out of date in ${stale.join(', ')}: run pnpm -s docs:config`);
  process.exit(1);
}
console.log(check ? 'config tables up to date' : stale.length > 0 ? `wrote ${stale.join(', ')}` : 'config tables up to date');
