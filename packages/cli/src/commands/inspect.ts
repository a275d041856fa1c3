import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { summarizedCommand } from '../command-summaries';
import { InvalidConfigError, parsePeftConfig } from '@peftjs/core';
import { readSafetensorsHeader, resolveAdapterFolder } from '@peftjs/hub';
import type { CliIo } from '../cli-io';
import { readJsonFile } from '../util/load-model';
import { methodName } from '../util/methods';
import { commonOptions, option } from '../util/options';
import { UsageError } from '../util/usage-error';

export interface AdapterInspection {
  folder: string;
  method: string;
  peft_type: string;
  config: Record<string, unknown>;
  tensors: Array<{ name: string; dtype: string; shape: number[]; parameters: number }>;
  parameters: number;
  files: Record<string, number>;
}

export async function inspectAdapter(location: string, options: { revision?: string; subfolder?: string } = {}): Promise<AdapterInspection> {
  const folder = await resolveAdapterFolder(location, {
    ...(options.revision ? { revision: options.revision } : {}),
    ...(options.subfolder ? { subfolder: options.subfolder } : {}),
  });
  const configPath = join(folder, 'adapter_config.json');
  if (!(await stat(configPath).catch(() => undefined))) throw new UsageError(`${folder} is not an adapter folder: it has no adapter_config.json`);
  const config = await readJsonFile(configPath);
  // A config the method would refuse is reported, not printed as if it were fine.
  try {
    parsePeftConfig(config);
  } catch (error) {
    if (InvalidConfigError.isInstance(error))
      throw new UsageError(`${configPath} is not a valid ${String(config.peft_type)} config: ${(error as Error).message}`, { cause: error });
    throw error;
  }
  const weightsPath = join(folder, 'adapter_model.safetensors');
  if (!(await stat(weightsPath).catch(() => undefined))) throw new UsageError(`${folder} has no adapter_model.safetensors`);
  const header = await readSafetensorsHeader(weightsPath);
  const tensors = header.tensors.map((tensor) => ({
    name: tensor.name,
    dtype: tensor.dtype,
    shape: [...tensor.shape],
    parameters: tensor.shape.reduce((product, size) => product * size, 1),
  }));
  tensors.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files: Record<string, number> = {};
  for (const entry of await readdir(folder, { withFileTypes: true })) {
    if (entry.isFile()) files[entry.name] = (await stat(join(folder, entry.name))).size;
  }
  const peftType = String(config.peft_type ?? 'unknown');
  return { folder, method: methodName(peftType), peft_type: peftType, config, tensors, parameters: tensors.reduce((sum, tensor) => sum + tensor.parameters, 0), files };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!))).join('  ')).join('\n');
}

const SHOWN_FIELDS = [
  'task_type',
  'base_model_name_or_path',
  'r',
  'lora_alpha',
  'lora_dropout',
  'target_modules',
  'feedforward_modules',
  'use_dora',
  'use_rslora',
  'num_virtual_tokens',
  'modules_to_save',
  'fan_in_fan_out',
];

export function inspectCommand(io: CliIo): Command {
  const command = summarizedCommand('inspect');
  option(command, '--revision <rev>', 'Hub revision', undefined, { defaultText: 'main' });
  option(command, '--subfolder <name>', 'a named adapter inside the folder or repo');
  option(command, '--json', 'print the inspection as JSON', false);
  commonOptions(command);
  command.action(async (location: string, options: Record<string, any>) => {
    const result = await inspectAdapter(location, options);
    if (options.json) {
      io.stdout(`${JSON.stringify(result)}\n`);
      return;
    }
    const lines = [`adapter: ${result.folder}`, `method: ${result.method} (peft_type ${result.peft_type})`];
    for (const key of SHOWN_FIELDS) if (key in result.config && result.config[key] !== null) lines.push(`  ${key}: ${JSON.stringify(result.config[key])}`);
    lines.push(
      '',
      table([
        ['tensor', 'dtype', 'shape', 'params'],
        ...result.tensors.map((tensor) => [tensor.name, tensor.dtype, `[${tensor.shape.join(', ')}]`, tensor.parameters.toLocaleString('en-US')]),
      ]),
    );
    lines.push('', `${result.tensors.length} tensors, ${result.parameters.toLocaleString('en-US')} parameters`);
    lines.push(
      `files: ${Object.entries(result.files)
        .map(([name, size]) => `${name} (${size.toLocaleString('en-US')} bytes)`)
        .join(', ')}`,
    );
    io.stdout(`${lines.join('\n')}\n`);
  });
  return command;
}
