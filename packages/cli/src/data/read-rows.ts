import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { UsageError } from '../util/usage-error';

export type DataRow = Record<string, unknown>;

/** RFC 4180 CSV: a header line, quoted fields with "" escapes and embedded newlines. */
export function parseCsv(text: string, source = 'csv'): DataRow[] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  let index = 0;
  const input = text.replace(/^\uFEFF/, '');
  while (index < input.length) {
    const character = input[index]!;
    if (quoted) {
      if (character === '"') {
        if (input[index + 1] === '"') {
          field += '"';
          index += 2;
          continue;
        }
        quoted = false;
      } else field += character;
      index++;
      continue;
    }
    if (character === '"' && field === '') quoted = true;
    else if (character === ',') {
      record.push(field);
      field = '';
    } else if (character === '\n' || character === '\r') {
      if (character === '\r' && input[index + 1] === '\n') index++;
      record.push(field);
      records.push(record);
      record = [];
      field = '';
    } else field += character;
    index++;
  }
  if (quoted) throw new UsageError(`${source}: a quoted field is not closed`);
  if (field !== '' || record.length > 0) {
    record.push(field);
    records.push(record);
  }
  const nonEmpty = records.filter((row) => !(row.length === 1 && row[0] === ''));
  const [header, ...rows] = nonEmpty;
  if (!header) throw new UsageError(`${source} is empty`);
  return rows.map((row, rowIndex) => {
    if (row.length !== header.length) throw new UsageError(`${source} line ${rowIndex + 2}: ${row.length} fields, the header has ${header.length}`);
    return Object.fromEntries(
      header.map((name, column) => {
        const value = row[column]!;
        // input_ids in a CSV cell: a JSON array.
        return [name.trim(), name.trim() === 'input_ids' || name.trim() === 'labels' ? safeJson(value, `${source} line ${rowIndex + 2}`) : value];
      }),
    );
  });
}

function safeJson(value: string, where: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    throw new UsageError(`${where}: input_ids must be a JSON array like [1, 2, 3], got ${JSON.stringify(value)}`);
  }
}

export function parseJsonl(text: string, source = 'jsonl'): DataRow[] {
  const rows: DataRow[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    if (line.trim() === '') return;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (error) {
      throw new UsageError(`${source} line ${index + 1} is not JSON: ${(error as Error).message}`);
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row)) throw new UsageError(`${source} line ${index + 1} is not a JSON object`);
    rows.push(row as DataRow);
  });
  return rows;
}

/** Reads a .jsonl (or .json array) or .csv data file into rows. */
export async function readRows(path: string): Promise<DataRow[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError(`data file ${path} does not exist`);
    throw error;
  }
  const extension = extname(path).toLowerCase();
  let rows: DataRow[];
  if (extension === '.csv') rows = parseCsv(text, path);
  else if (extension === '.json' && text.trimStart().startsWith('[')) rows = JSON.parse(text) as DataRow[];
  else if (extension === '.jsonl' || extension === '.json' || extension === '.ndjson') rows = parseJsonl(text, path);
  else throw new UsageError(`data file ${path}: use .jsonl or .csv`);
  if (rows.length === 0) throw new UsageError(`data file ${path} has no rows`);
  return rows;
}
