import type { Command } from 'commander';
import { summarizedCommand } from '../command-summaries';
import * as tf from '@tensorflow/tfjs-core';
import { saveSafetensors } from '@peftjs/hub';
import type { CliIo } from '../cli-io';
import { startBackend } from '../util/backend';
import { modelInputs, parseIdRows } from '../util/load-model';
import { collect, commonOptions, option } from '../util/options';
import { UsageError } from '../util/usage-error';
import { storageFromFlags, storageOptions } from '../util/storage-options';
import { BASE_FROM_ADAPTER, loadModelWithAdapters, promptRows } from './shared';
import { parseTaskIdsFlag } from '../data/task-ids';
import { withTaskIds } from '../training/evaluate-loss';

export function predictCommand(io: CliIo): Command {
  const command = summarizedCommand('predict');
  option(command, '--base <dir|repo>', 'base model: a transformers folder or Hub repo id', undefined, { defaultText: BASE_FROM_ADAPTER });
  option(command, '--adapter <[name=]dir|repo>', 'adapter to load (repeatable; all are active)', undefined, { parse: collect });
  option(command, '--prompt <text>', 'input text (repeatable: a left-padded batch)', undefined, { parse: collect });
  option(command, '--input-ids <json>', "input token ids, e.g. '[[1,2,3],[4,5,6]]'");
  option(command, '--attention-mask <json>', '1 = token, 0 = padding, shaped like the ids', undefined, { defaultText: 'all ones' });
  option(command, '--token-type-ids <json>', 'segment ids (BERT), shaped like the ids', undefined, { defaultText: 'all zeros' });
  option(command, '--decoder-input-ids <json>', "encoder-decoders (T5, mT5): the decoder's input ids, e.g. '[[0, 5, 9]]'; logits are [batch, decoder_len, vocab]", undefined, {
    defaultText: 'none; needed by encoder-decoders',
  });
  option(command, '--task-ids <json>', "one task id per row for Poly / multitask prompt tuning adapters, e.g. '[0, 2]' (or one integer for every row)");
  option(command, '--output <file.safetensors>', 'where to write tensor "logits" (float32)', undefined, { required: true });
  option(command, '--revision <rev>', 'Hub revision of the base model', undefined, { defaultText: 'main' });
  option(command, '--json', 'also print {"shape", "logits"} on stdout', false);
  storageOptions(command);
  commonOptions(command);
  command.action(async (options: Record<string, any>) => {
    if (!String(options.output).endsWith('.safetensors')) throw new UsageError(`--output must be a .safetensors file, got ${options.output}`);
    await startBackend(options.backend, io.env, options.verbose ? (line) => io.stderr(`${line}\n`) : undefined);
    const loaded = await loadModelWithAdapters({ ...(options as { base?: string; adapter?: string[]; revision?: string }), storage: storageFromFlags(options) });
    const { rows, mask } = promptRows(loaded, options);
    let tokenTypes: number[][] | undefined;
    if (options.tokenTypeIds) {
      tokenTypes = parseIdRows(options.tokenTypeIds, '--token-type-ids');
      if (tokenTypes.length !== rows.length || tokenTypes.some((row, index) => row.length !== rows[index]!.length))
        throw new UsageError('--token-type-ids must have the shape of the input ids');
    }
    const decoderRows = options.decoderInputIds ? parseIdRows(options.decoderInputIds, '--decoder-input-ids') : undefined;
    if (decoderRows && decoderRows.length !== rows.length) throw new UsageError(`--decoder-input-ids has ${decoderRows.length} rows but the input ids ${rows.length}`);
    if (decoderRows && loaded.base.task !== 'seq2seq-lm')
      throw new UsageError(`--decoder-input-ids is for encoder-decoders; ${options.base ?? 'the base'} is a ${loaded.base.task} model`);
    const taskIds = parseTaskIdsFlag(options.taskIds, rows.length);
    const logits = tf.tidy(() => {
      const inputIds = tf.tensor2d(rows, undefined, 'int32');
      const attentionMask = tf.tensor2d(mask, undefined, 'float32');
      const tokenTypeIds = tokenTypes ? tf.tensor2d(tokenTypes, undefined, 'int32') : undefined;
      const decoderInputIds = decoderRows ? tf.tensor2d(decoderRows, undefined, 'int32') : undefined;
      const inputs = { inputIds, attentionMask, ...(tokenTypeIds ? { tokenTypeIds } : {}), ...(decoderInputIds ? { decoderInputIds } : {}) };
      const run = () => loaded.model.apply(modelInputs(loaded.model, inputs), { training: false }) as tf.Tensor | tf.Tensor[];
      const output = withTaskIds(taskIds, run);
      return tf.cast(Array.isArray(output) ? output[0]! : output, 'float32');
    });
    try {
      await saveSafetensors(options.output, { logits }, { metadata: { format: 'pt' } });
      io.stderr(`wrote logits [${logits.shape.join(', ')}] to ${options.output}\n`);
      if (options.json) io.stdout(`${JSON.stringify({ shape: logits.shape, logits: await logits.array() })}\n`);
    } finally {
      logits.dispose();
    }
  });
  return command;
}
