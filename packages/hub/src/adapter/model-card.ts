import { writeFileAtomicContent } from '../util/atomic-write';
import { MODEL_CARD_NAME } from './adapter-files';

const FRAMEWORK_LINE = '- PEFT 0.11.1 format, saved by peftjs';

/**
 * Creates or updates `README.md` the way PEFT's `create_or_update_model_card` does: the YAML front
 * matter gets `library_name: peft` and, when known, `base_model`; a "Framework versions" section
 * is appended once. Other content of an existing card is kept.
 */
export async function writeModelCard(folder: string, options: { baseModel?: string | null } = {}): Promise<void> {
  const { readFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const path = join(folder, MODEL_CARD_NAME);
  const existing = await readFile(path, 'utf8').catch(() => undefined);
  const { frontMatter, body } = splitFrontMatter(existing ?? '');
  let lines = frontMatter;
  if (options.baseModel !== undefined && options.baseModel !== null && options.baseModel !== '') {
    lines = setKey(lines, 'base_model', options.baseModel);
  }
  lines = setKey(lines, 'library_name', 'peft');
  let text = existing === undefined ? defaultBody() : body;
  if (!text.includes(FRAMEWORK_LINE)) {
    text = `${text.replace(/\s*$/, '')}\n\n### Framework versions\n\n${FRAMEWORK_LINE}\n`;
  }
  await writeFileAtomicContent(path, `---\n${lines.join('\n')}\n---\n${text.startsWith('\n') ? '' : '\n'}${text}`);
}

function splitFrontMatter(text: string): { frontMatter: string[]; body: string } {
  const match = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/.exec(text);
  if (match === null) {
    return { frontMatter: [], body: text };
  }
  return { frontMatter: match[1].split(/\r?\n/).filter((line) => line.trim() !== ''), body: text.slice(match[0].length) };
}

/** Sets a top-level scalar key, dropping its old value (including an indented or list value). */
function setKey(lines: readonly string[], key: string, value: string): string[] {
  const result: string[] = [];
  let skipping = false;
  for (const line of lines) {
    if (line.startsWith(`${key}:`)) {
      skipping = true;
      continue;
    }
    if (skipping && /^(\s|-\s|-$)/.test(line)) {
      continue;
    }
    skipping = false;
    result.push(line);
  }
  const scalar = /^[A-Za-z0-9_./-]+$/.test(value) ? value : JSON.stringify(value);
  const line = `${key}: ${scalar}`;
  // Keep keys sorted as huggingface_hub writes them.
  const index = result.findIndex((existing) => /^[A-Za-z_][\w-]*:/.test(existing) && existing > line);
  if (index < 0) {
    result.push(line);
  } else {
    result.splice(index, 0, line);
  }
  return result;
}

function defaultBody(): string {
  return [
    '# Model Card for Model ID',
    '',
    '<!-- Provide a quick summary of what the model is/does. -->',
    '',
    'A PEFT adapter. Load it in Python with `PeftModel.from_pretrained(base_model, path)`, or in',
    'TypeScript with `fromPretrained(baseModel, path)` from `@peftjs/hub`.',
    '',
  ].join('\n');
}
