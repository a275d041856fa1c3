import type { Command } from 'commander';
import { summarizedCommand } from '../command-summaries';
import type { CliIo } from '../cli-io';
import { readRows } from '../data/read-rows';
import { tokenizeRows } from '../data/tokenize-rows';
import { evaluateCausalLm } from '../training/evaluate-loss';
import { startBackend } from '../util/backend';
import { collect, commonOptions, integer, option } from '../util/options';
import { TRAIN_DEFAULTS } from '../training/train-adapter';
import { UsageError } from '../util/usage-error';
import { storageFromFlags, storageOptions } from '../util/storage-options';
import { BASE_FROM_ADAPTER, loadModelWithAdapters } from './shared';
import { evaluateSeq2SeqLm, seq2seqExamples } from '../training/evaluate-seq2seq';

export function evalCommand(io: CliIo): Command {
  const command = summarizedCommand('eval');
  option(command, '--base <dir|repo>', 'base model: a transformers folder or Hub repo id', undefined, { defaultText: BASE_FROM_ADAPTER });
  option(command, '--adapter <[name=]dir|repo>', 'adapter to load (repeatable; all are active)', undefined, { parse: collect });
  option(command, '--data <file>', '.jsonl or .csv rows of {"text"}, {"prompt","completion"} or {"input_ids"}', undefined, { required: true });
  option(command, '--batch-size <n>', 'rows per forward pass', 8, { parse: integer('--batch-size', 1) });
  option(command, '--max-length <n>', 'truncate rows to this many tokens (as train does)', TRAIN_DEFAULTS.maxLength, { parse: integer('--max-length', 2) });
  option(command, '--no-append-eos', "score rows as they are: no EOS after text and completions (train appends it; transformers' perplexity scripts do not)", undefined, {
    defaultText: 'appended, as train does',
  });
  option(command, '--revision <rev>', 'Hub revision of the base model', undefined, { defaultText: 'main' });
  option(command, '--json', 'print {"loss", "perplexity", "tokens"}', false);
  storageOptions(command);
  commonOptions(command);
  command.action(async (options: Record<string, any>) => {
    await startBackend(options.backend, io.env, options.verbose ? (line) => io.stderr(`${line}\n`) : undefined);
    const rows = await readRows(options.data);
    const loaded = await loadModelWithAdapters({ ...(options as { base?: string; adapter?: string[]; revision?: string }), storage: storageFromFlags(options) });
    if (loaded.base.task === 'seq2seq-lm') {
      // transformers' seq2seq loss: decoder_input_ids = shift_right(labels), every label token scored.
      const config = loaded.base.config;
      const padTokenId = typeof config.pad_token_id === 'number' ? config.pad_token_id : 0;
      const decoderStartTokenId = typeof config.decoder_start_token_id === 'number' ? config.decoder_start_token_id : padTokenId;
      const vocabSize = typeof config.vocab_size === 'number' ? config.vocab_size : undefined;
      const examples = seq2seqExamples(rows, { source: options.data, maxLength: options.maxLength, vocabSize });
      const result = await evaluateSeq2SeqLm(loaded.model, examples, { batchSize: options.batchSize, padTokenId, decoderStartTokenId });
      if (options.json) io.stdout(`${JSON.stringify(result)}\n`);
      else io.stdout(`loss ${result.loss.toFixed(6)}  perplexity ${result.perplexity.toFixed(4)}  tokens ${result.tokens}\n`);
      return;
    }
    if (loaded.base.task !== 'causal-lm') throw new UsageError(`eval scores causal LMs and encoder-decoders; ${options.base ?? 'the base'} is a ${loaded.base.task} model`);
    const tokenizer = loaded.base.tokenizer;
    const vocabSize = typeof loaded.base.config.vocab_size === 'number' ? loaded.base.config.vocab_size : undefined;
    // The rows are tokenised as train tokenises them (EOS after text and completions), so eval
    // scores what training optimised; --no-append-eos scores the rows as they are.
    const examples = tokenizeRows(rows, {
      tokenizer,
      maxLength: options.maxLength,
      vocabSize,
      source: options.data,
      ...(options.appendEos === false ? { eosTokenId: undefined, noEos: true } : {}),
    });
    const padTokenId = tokenizer?.padTokenId ?? tokenizer?.eosTokenId ?? 0;
    const result = await evaluateCausalLm(loaded.model, examples, { batchSize: options.batchSize, padTokenId });
    if (options.json) io.stdout(`${JSON.stringify(result)}\n`);
    else io.stdout(`loss ${result.loss.toFixed(6)}  perplexity ${result.perplexity.toFixed(4)}  tokens ${result.tokens}\n`);
  });
  return command;
}
