import { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import type { CliIo } from '../cli-io';
import { readRows } from '../data/read-rows';
import { trainAdapter, TRAIN_DEFAULTS, type StepProgress } from '../training/train-adapter';
import { startBackend } from '../util/backend';
import { readJsonFile } from '../util/load-model';
import { REQUIRED, attributeOf, findMethod, listMethods, flagOf, methodFlags, methodName, parseFieldValue } from '../util/methods';
import { commonOptions, float, integer, option } from '../util/options';
import { checkOutputFolder } from '../util/output-folder';
import { UsageError } from '../util/usage-error';

function formatDefault(value: unknown): string {
  if (value === REQUIRED) return 'required';
  return value === null ? 'null' : typeof value === 'string' ? value : JSON.stringify(value);
}

function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const whole = Math.round(seconds);
  return whole >= 60 ? `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s` : `${whole}s`;
}

/** A progress display: a live bar on a terminal, else a line every tenth of the run. */
export function createProgress(io: CliIo, enabled: boolean): { update(progress: StepProgress): void; stop(): void } {
  if (!enabled) return { update() {}, stop() {} };
  if (io.isTTY) {
    const bar = new SingleBar({
      format: 'train |{bar}| step {value}/{total} | loss {loss} | {tps} tok/s | ETA {eta_text}',
      hideCursor: true,
      barsize: 24,
    });
    let started = false;
    return {
      update(progress) {
        const payload = { loss: progress.loss.toFixed(4), tps: progress.tokensPerSecond.toFixed(0), eta_text: formatEta(progress.etaSeconds) };
        if (!started) {
          bar.start(progress.totalSteps, progress.step, payload);
          started = true;
        }
        bar.update(progress.step, payload);
      },
      stop() {
        if (started) bar.stop();
        started = false;
      },
    };
  }
  return {
    update(progress) {
      const every = Math.max(1, Math.floor(progress.totalSteps / 10));
      if (progress.step % every === 0 || progress.step === progress.totalSteps || progress.step === 1) {
        io.stderr(`step ${progress.step}/${progress.totalSteps} | epoch ${progress.epoch} | loss ${progress.loss.toFixed(4)} | ${progress.tokensPerSecond.toFixed(0)} tok/s | ETA ${formatEta(progress.etaSeconds)}\n`);
      }
    },
    stop() {},
  };
}

export function trainCommand(io: CliIo): Command {
  const command = new Command('train').description('fine-tune an adapter on a causal LM and save it in PEFT format');
  option(command, '--base <dir|repo>', 'base model: a transformers folder or Hub repo id', undefined, { required: true });
  option(command, '--data <file>', 'training data: .jsonl or .csv rows of {"text"}, {"prompt","completion"} or {"input_ids"}', undefined, { required: true });
  option(command, '--out <dir>', 'where to write the adapter, training_log.json and loss_curve.png', undefined, { required: true });
  option(command, '--method <name>', 'PEFT method, one of the registered tuners', undefined, { defaultText: `the --config's peft_type, else lora; registered: ${methodFlagsMethods()}` });
  option(command, '--config <file>', 'an adapter_config.json to start from (flags override its fields)');
  option(command, '--epochs <n>', 'passes over the training rows', TRAIN_DEFAULTS.epochs, { parse: integer('--epochs', 1) });
  option(command, '--batch-size <n>', 'rows per optimizer step', TRAIN_DEFAULTS.batchSize, { parse: integer('--batch-size', 1) });
  option(command, '--lr <rate>', 'peak learning rate (Adam, linear decay to 0)', TRAIN_DEFAULTS.lr, { parse: float('--lr', (value) => value > 0, 'a positive number') });
  option(command, '--max-length <n>', 'truncate rows to this many tokens', TRAIN_DEFAULTS.maxLength, { parse: integer('--max-length', 2) });
  option(command, '--seed <n>', 'seed for adapter init, dropout, shuffling and the split', TRAIN_DEFAULTS.seed, { parse: integer('--seed', 0) });
  option(command, '--eval-split <fraction|rows>', 'rows held out for evaluation: a fraction < 1 or a count', TRAIN_DEFAULTS.evalSplit, { parse: float('--eval-split', (value) => value >= 0 && (value < 1 || Number.isInteger(value)), 'a fraction below 1 or a whole number of rows') });
  option(command, '--max-grad-norm <norm>', 'clip gradients to this global norm (0: off)', TRAIN_DEFAULTS.maxGradNorm, { parse: float('--max-grad-norm', (value) => value >= 0, 'a number ≥ 0') });
  option(command, '--revision <rev>', 'Hub revision of the base model', undefined, { defaultText: 'main' });
  option(command, '--gradient-checkpointing', 'recompute each decoder layer in the backward pass: activation memory of one layer, about one more forward pass of time', false);
  option(command, '--no-progress', 'do not show the progress bar', undefined, { defaultText: 'shown' });
  option(command, '--json', 'print a JSON summary on stdout', false);
  const flags = methodFlags();
  for (const flag of flags) {
    const defaults = flag.defaults.map((entry) => `${entry.method}: ${formatDefault(entry.value)}`).join('; ');
    const isBoolean = flag.defaults.every((entry) => typeof entry.value === 'boolean');
    option(command, `--${flagOf(flag.key)} ${isBoolean ? '[bool]' : '<value>'}`, `method config field ${flag.key}`, undefined, { defaultText: defaults });
  }
  commonOptions(command);
  command.action(async (options: Record<string, any>) => {
    await checkOutputFolder(options.out);
    await startBackend(options.backend, io.env, options.verbose ? (line) => io.stderr(`${line}\n`) : undefined);
    const fileConfig = options.config ? await readJsonFile(options.config) : {};
    const method = findMethod(options.method ?? (typeof fileConfig.peft_type === 'string' ? methodName(fileConfig.peft_type) : 'lora'));
    if (typeof fileConfig.peft_type === 'string' && fileConfig.peft_type !== method.peftType) {
      throw new UsageError(`--config ${options.config} is a ${fileConfig.peft_type} config but --method is ${method.name}`);
    }
    const config: Record<string, unknown> = { ...fileConfig };
    for (const flag of flags) {
      const value = options[attributeOf(flag.key)];
      if (value === undefined) continue;
      if (!(flag.key in method.defaults)) {
        const owners = flag.defaults.map((entry) => entry.method).join(', ');
        throw new UsageError(`--${flagOf(flag.key)} is not a ${method.name} option (it belongs to ${owners}); ${method.name} takes ${Object.keys(method.defaults).map((key) => `--${flagOf(key)}`).join(', ')}`);
      }
      config[flag.key] = parseFieldValue(flag.key, value === true ? true : value, method.defaults[flag.key]);
    }
    const rows = await readRows(options.data);
    const progress = createProgress(io, options.progress !== false);
    const log = (line: string) => io.stderr(`${line}\n`);
    let result;
    try {
      result = await trainAdapter({
        base: options.base,
        rows,
        method: method.name,
        config,
        epochs: options.epochs,
        batchSize: options.batchSize,
        lr: options.lr,
        maxLength: options.maxLength,
        seed: options.seed,
        evalSplit: options.evalSplit,
        maxGradNorm: options.maxGradNorm,
        gradientCheckpointing: options.gradientCheckpointing === true,
        out: options.out,
        revision: options.revision,
        dataSource: options.data,
        onStep: (step) => progress.update(step),
        log: (line) => {
          progress.stop();
          log(line);
        },
      });
    } finally {
      progress.stop();
    }
    const first = result.log.steps[0]?.loss;
    const last = result.log.steps.at(-1)?.loss;
    log(`trained ${result.log.total_steps} steps in ${result.log.seconds.toFixed(1)} s (${result.log.tokens_per_second.toFixed(0)} tok/s); train loss ${first?.toFixed(4)} → ${last?.toFixed(4)}`);
    log(`saved ${method.name} adapter to ${options.out}: ${result.files.map((file) => file.slice(options.out.length).replace(/^[\\/]/, '')).join(', ')}`);
    if (options.json) {
      io.stdout(
        `${JSON.stringify({
          out: options.out,
          method: method.name,
          trainable_parameters: result.log.trainable_parameters,
          steps: result.log.total_steps,
          train_loss: { first, last },
          eval: result.log.evals,
          files: result.files,
        })}\n`,
      );
    }
  });
  return command;
}

function methodFlagsMethods(): string {
  return listMethods().map((method) => method.name).join(', ');
}
