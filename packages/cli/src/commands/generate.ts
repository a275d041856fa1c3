import type { Command } from 'commander';
import { summarizedCommand } from '../command-summaries';
import { generate } from '@peftjs/models';
import type { CliIo } from '../cli-io';
import { startBackend } from '../util/backend';
import { collect, commonOptions, float, integer, option } from '../util/options';
import { UsageError } from '../util/usage-error';
import { storageFromFlags, storageOptions } from '../util/storage-options';
import { BASE_FROM_ADAPTER, loadModelWithAdapters, promptRows } from './shared';
import { parseTaskIdsFlag } from '../data/task-ids';

export function generateCommand(io: CliIo): Command {
  const command = summarizedCommand('generate');
  option(command, '--base <dir|repo>', 'base model: a transformers folder or Hub repo id', undefined, { defaultText: BASE_FROM_ADAPTER });
  option(command, '--adapter <[name=]dir|repo>', 'adapter to load (repeatable; all are active)', undefined, { parse: collect });
  option(command, '--prompt <text>', 'prompt text (repeatable: a left-padded batch)', undefined, { parse: collect });
  option(command, '--input-ids <json>', "prompt token ids, e.g. '[[1,2,3]]'");
  option(command, '--attention-mask <json>', '1 = token, 0 = padding, shaped like --input-ids (for an encoder-decoder, the encoder mask)', undefined, {
    defaultText: 'all ones, or the --prompt padding',
  });
  option(command, '--max-new-tokens <n>', 'new tokens at most', 20, { parse: integer('--max-new-tokens', 1) });
  option(command, '--greedy', 'greedy decoding (the default unless a sampling flag is given)', false);
  option(command, '--temperature <t>', 'sample with this temperature', undefined, {
    parse: float('--temperature', (value) => value > 0, 'a positive number'),
    defaultText: 'none: greedy',
  });
  option(command, '--top-k <k>', 'sample from the k most likely tokens (0: all)', undefined, { parse: integer('--top-k', 0), defaultText: '50 when sampling' });
  option(command, '--top-p <p>', 'nucleus sampling probability', undefined, {
    parse: float('--top-p', (value) => value > 0 && value <= 1, 'in (0, 1]'),
    defaultText: '1 when sampling',
  });
  option(command, '--seed <n>', 'sampling seed', 0, { parse: integer('--seed', 0) });
  option(command, '--pad-token-id <id>', 'fills rows that finished early', undefined, { parse: integer('--pad-token-id', 0), defaultText: "the model's pad token, else its EOS" });
  option(command, '--task-ids <json>', "one task id per row for Poly / multitask prompt tuning adapters, e.g. '[0, 2]' (or one integer for every row)");
  option(command, '--revision <rev>', 'Hub revision of the base model', undefined, { defaultText: 'main' });
  option(command, '--json', 'print {"sequences": [[…]], "texts": […]}', false);
  storageOptions(command);
  commonOptions(command);
  command.action(async (options: Record<string, any>) => {
    const sampling = options.temperature !== undefined || options.topK !== undefined || options.topP !== undefined;
    if (options.greedy && sampling) throw new UsageError('--greedy cannot be combined with --temperature, --top-k or --top-p');
    await startBackend(options.backend, io.env, options.verbose ? (line) => io.stderr(`${line}\n`) : undefined);
    const loaded = await loadModelWithAdapters({ ...(options as { base?: string; adapter?: string[]; revision?: string }), storage: storageFromFlags(options) });
    const seq2seq = loaded.base.task === 'seq2seq-lm';
    if (loaded.base.task !== 'causal-lm' && !seq2seq)
      throw new UsageError(`generate needs a causal LM or an encoder-decoder; ${options.base ?? 'the base'} is a ${loaded.base.task} model (use predict)`);
    const { rows, mask } = promptRows(loaded, options);
    const options_ = {
      maxNewTokens: options.maxNewTokens,
      attentionMask: mask,
      doSample: sampling,
      ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
      ...(options.topK !== undefined ? { topK: options.topK } : {}),
      ...(options.topP !== undefined ? { topP: options.topP } : {}),
      seed: options.seed,
      ...(options.padTokenId !== undefined ? { padTokenId: options.padTokenId } : {}),
      ...(options.taskIds !== undefined ? { taskIds: parseTaskIdsFlag(options.taskIds, rows.length) } : {}),
    };
    // One decode loop for every method: an adapter's tuner (prompt learning's virtual tokens) supplies its generation hooks.
    const sequences = await generate(loaded.model, rows, options_);
    const tokenizer = loaded.base.tokenizer;
    // An encoder-decoder returns decoder ids (the decoder start token, then the new ones); a causal LM, the prompt and the new ids.
    const texts = tokenizer
      ? sequences.map((sequence, row) => tokenizer.decode(seq2seq ? sequence.slice(1) : sequence.filter((_, index) => index >= rows[row]!.length || mask[row]![index] === 1)))
      : null;
    if (options.json) io.stdout(`${JSON.stringify({ sequences, texts })}\n`);
    else if (texts) for (const text of texts) io.stdout(`${text}\n`);
    else for (const sequence of sequences) io.stdout(`${JSON.stringify(sequence)}\n`);
  });
  return command;
}
