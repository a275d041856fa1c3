import { copyFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { summarizedCommand } from '../command-summaries';
import type { CliIo } from '../cli-io';
import { startBackend } from '../util/backend';
import { saveTransformersModel } from '../util/save-model';
import { TOKENIZER_FILES } from '../util/tokenizer';
import { collect, commonOptions, option } from '../util/options';
import { checkOutputFolder } from '../util/output-folder';
import { UsageError } from '../util/usage-error';
import { storageFromFlags, storageOptions } from '../util/storage-options';
import { BASE_FROM_ADAPTER, loadModelWithAdapters } from './shared';

/** Files of a transformers folder that a merged model keeps as they are. */
const COPIED_FILES = ['generation_config.json', ...TOKENIZER_FILES];

/** merge's file dtypes and the store dtypes they name (either spelling is accepted). */
const MERGE_FILE_DTYPES: Record<string, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };
const MERGE_STORE_DTYPES = Object.values(MERGE_FILE_DTYPES);

export function mergeCommand(io: CliIo): Command {
  const command = summarizedCommand('merge');
  option(command, '--base <dir|repo>', 'base model: a transformers folder or Hub repo id', undefined, { defaultText: BASE_FROM_ADAPTER });
  option(command, '--adapter <[name=]dir|repo>', 'adapter to merge (repeatable: all are merged)', undefined, { parse: collect, required: true });
  option(command, '--out <dir>', 'the merged model folder (config.json, model.safetensors, tokenizer files)', undefined, { required: true });
  option(command, '--dtype <dtype>', 'how weights are stored: in the written file, and (bfloat16, float16) in the frozen-weight store while merging', 'F32', {
    choices: ['F32', 'F16', 'BF16', ...MERGE_STORE_DTYPES],
  });
  storageOptions(command, { dtype: false });
  option(command, '--safe-merge', 'check the merged weights for NaN/Inf before writing', false);
  option(command, '--revision <rev>', 'Hub revision of the base model', undefined, { defaultText: 'main' });
  commonOptions(command);
  command.action(async (options: Record<string, any>) => {
    await checkOutputFolder(options.out);
    await startBackend(options.backend, io.env, options.verbose ? (line) => io.stderr(`${line}\n`) : undefined);
    const storeDtype = MERGE_FILE_DTYPES[options.dtype as string] ?? options.dtype;
    options.dtype = Object.entries(MERGE_FILE_DTYPES).find(([, name]) => name === storeDtype)?.[0] ?? options.dtype;
    const loaded = await loadModelWithAdapters({
      ...(options as { base?: string; adapter?: string[]; revision?: string }),
      storage: storageFromFlags(options, { dtype: options.quantization !== undefined || storeDtype !== 'float32' ? storeDtype : undefined }),
    });
    const peftModel = loaded.peftModel!;
    if (!peftModel.tuner.layers.length) throw new UsageError(`${peftModel.peftType} adapters have no weights to merge`);
    // mergeAndUnload removes the adapters: name them first.
    const mergedNames = peftModel.adapterNames;
    let merged;
    try {
      merged = await peftModel.mergeAndUnload({ safeMerge: options.safeMerge });
    } catch (error) {
      if ((error as Error).name === 'MergeError' || (error as Error).name === 'AdapterStateError') throw error;
      throw new UsageError(`${peftModel.peftType} adapters cannot be merged into the base weights: ${(error as Error).message}`, { cause: error });
    }
    const names = await saveTransformersModel(merged, options.out, { config: loaded.base.config, floatDtype: options.dtype });
    const present = new Set(await readdir(loaded.base.folder));
    const copied: string[] = [];
    for (const file of COPIED_FILES) {
      if (!present.has(file)) continue;
      await copyFile(join(loaded.base.folder, file), join(options.out, file));
      copied.push(file);
    }
    io.stderr(
      `merged ${mergedNames.join(', ')} into ${names.length} tensors; wrote ${options.out}: config.json, model.safetensors${copied.length ? `, ${copied.join(', ')}` : ''}\n`,
    );
  });
  return command;
}
