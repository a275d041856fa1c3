import type { Command } from 'commander';
import { summarizedCommand } from '../command-summaries';
import { SingleBar } from 'cli-progress';
import type { CliIo } from '../cli-io';
import { LR_SCHEDULER_TYPES, OPTIMIZERS, type TrainingArguments } from '@peftjs/trainer';
import { readRows, type DataRow } from '../data/read-rows';
import { trainAdapter, TRAIN_DEFAULTS, type StepProgress, type TrainAdapterOptions } from '../training/train-adapter';
import { startBackend } from '../util/backend';
import { storageFromFlags, storageOptions } from '../util/storage-options';
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
        io.stderr(
          `step ${progress.step}/${progress.totalSteps} | epoch ${Number(progress.epoch.toFixed(2))} | loss ${progress.loss.toFixed(4)} | ${progress.tokensPerSecond.toFixed(0)} tok/s | ETA ${formatEta(progress.etaSeconds)}\n`,
        );
      }
    },
    stop() {},
  };
}

/** The training flags, kebab-case of HF TrainingArguments' names. */
function trainingOptions(command: Command): void {
  const positive = (flag: string) => float(flag, (value) => value > 0, 'a positive number');
  const nonNegative = (flag: string) => float(flag, (value) => value >= 0, 'a number ≥ 0');
  option(command, '--epochs <n>', 'num_train_epochs: passes over the training rows (used when --max-steps is not given)', TRAIN_DEFAULTS.epochs, { parse: positive('--epochs') });
  option(command, '--max-steps <n>', 'max_steps: optimizer steps to train (overrides --epochs)', undefined, { parse: integer('--max-steps', 1), defaultText: 'from --epochs' });
  option(command, '--batch-size <n>', 'per_device_train_batch_size: rows per micro-batch', TRAIN_DEFAULTS.batchSize, { parse: integer('--batch-size', 1) });
  option(command, '--gradient-accumulation-steps <n>', 'micro-batches per optimizer step (the mean of their mean losses)', 1, {
    parse: integer('--gradient-accumulation-steps', 1),
  });
  option(command, '--optimizer <name>', 'optim: adamw (torch.optim.AdamW), adam (torch.optim.Adam), sgd', 'adamw', { choices: [...OPTIMIZERS] });
  option(command, '--lr <rate>', 'learning_rate: the peak learning rate', TRAIN_DEFAULTS.lr, { parse: positive('--lr') });
  option(command, '--weight-decay <wd>', 'weight_decay (AdamW: decoupled; biases and norm weights are not decayed)', 0, { parse: nonNegative('--weight-decay') });
  option(command, '--adam-beta1 <b1>', 'adam_beta1', 0.9, { parse: float('--adam-beta1', (value) => value >= 0 && value < 1, 'in [0, 1)') });
  option(command, '--adam-beta2 <b2>', 'adam_beta2', 0.999, { parse: float('--adam-beta2', (value) => value >= 0 && value < 1, 'in [0, 1)') });
  option(command, '--adam-epsilon <eps>', 'adam_epsilon', 1e-8, { parse: nonNegative('--adam-epsilon') });
  option(command, '--lr-scheduler <type>', 'lr_scheduler_type', 'linear', { choices: [...LR_SCHEDULER_TYPES] });
  option(command, '--warmup-steps <n>', 'warmup_steps: warm-up from lr 0 over this many steps', 0, { parse: integer('--warmup-steps', 0) });
  option(command, '--warmup-ratio <ratio>', 'warmup_ratio: warm-up over this fraction of the steps (when --warmup-steps is 0)', 0, {
    parse: float('--warmup-ratio', (value) => value >= 0 && value <= 1, 'in [0, 1]'),
  });
  option(command, '--max-grad-norm <norm>', 'max_grad_norm: clip the global gradient norm to this (0: off)', TRAIN_DEFAULTS.maxGradNorm, { parse: nonNegative('--max-grad-norm') });
  option(command, '--no-shuffle', 'keep the rows in file order (default: a seeded reshuffle every epoch)', undefined, { defaultText: 'shuffled' });
  option(command, '--seed <n>', 'seed for adapter init, dropout, shuffling and the split', TRAIN_DEFAULTS.seed, { parse: integer('--seed', 0) });
  option(command, '--max-length <n>', 'truncate rows to this many tokens', TRAIN_DEFAULTS.maxLength, { parse: integer('--max-length', 2) });
  option(command, '--pad-token-id <id>', 'the id padding positions get (labels there are -100)', undefined, {
    parse: integer('--pad-token-id', 0),
    defaultText: "the tokenizer's pad or EOS, else config pad_token_id, else 0",
  });
  option(command, '--eval-split <fraction|rows>', 'rows held out for evaluation: a fraction < 1 or a count', TRAIN_DEFAULTS.evalSplit, {
    parse: float('--eval-split', (value) => value >= 0 && (value < 1 || Number.isInteger(value)), 'a fraction below 1 or a whole number of rows'),
  });
  option(command, '--eval-steps <n>', 'eval_steps: evaluate the held-out rows every N steps', undefined, { parse: integer('--eval-steps', 1), defaultText: 'once per epoch' });
  option(command, '--save-steps <n>', 'save_steps: write OUT/checkpoint-<step> every N steps (one is always written after the last step)', 0, {
    parse: integer('--save-steps', 0),
  });
  option(command, '--save-total-limit <n>', 'save_total_limit: keep only the newest N checkpoints (0: all)', 0, { parse: integer('--save-total-limit', 0) });
  option(command, '--resume-from-checkpoint <dir|latest>', 'continue from a checkpoint folder, or the newest complete one under --out');
  option(command, '--init-adapter <dir>', 'start from a saved adapter folder (its config and weights, trainable)');
  option(command, '--init-state <file>', 'a safetensors of every trainable tensor (keys as trainable_state.safetensors), loaded over the initial values');
}

/** Every parsed flag → the options of trainAdapter (engine options are built here, in one place). */
export function trainAdapterOptionsFrom(
  options: Record<string, any>,
  parts: { method: string | undefined; config: Record<string, unknown>; rows: DataRow[] },
): TrainAdapterOptions {
  const training: Partial<TrainingArguments> = {
    maxSteps: options.maxSteps,
    gradientAccumulationSteps: options.gradientAccumulationSteps,
    optim: options.optimizer,
    weightDecay: options.weightDecay,
    adamBeta1: options.adamBeta1,
    adamBeta2: options.adamBeta2,
    adamEpsilon: options.adamEpsilon,
    lrSchedulerType: options.lrScheduler,
    warmupSteps: options.warmupSteps,
    warmupRatio: options.warmupRatio,
    shuffle: options.shuffle !== false,
    saveSteps: options.saveSteps,
    saveTotalLimit: options.saveTotalLimit,
  };
  return {
    base: options.base,
    rows: parts.rows,
    method: parts.method,
    config: parts.config,
    initAdapter: options.initAdapter,
    initState: options.initState,
    training,
    epochs: options.epochs,
    batchSize: options.batchSize,
    lr: options.lr,
    maxGradNorm: options.maxGradNorm,
    gradientCheckpointing: options.gradientCheckpointing === true,
    seed: options.seed,
    maxLength: options.maxLength,
    evalSplit: options.evalSplit,
    evalSteps: options.evalSteps,
    padTokenId: options.padTokenId,
    resumeFromCheckpoint: options.resumeFromCheckpoint,
    out: options.out,
    revision: options.revision,
    dataSource: options.data,
  };
}

export function trainCommand(io: CliIo): Command {
  const command = summarizedCommand('train');
  option(command, '--base <dir|repo>', 'base model: a transformers folder or Hub repo id', undefined, { required: true });
  option(command, '--data <file>', 'training data: .jsonl or .csv rows of {"text"}, {"prompt","completion"} or {"input_ids"}', undefined, { required: true });
  option(command, '--out <dir>', 'where to write the adapter, checkpoints, training_log.json and loss_curve.png', undefined, { required: true });
  option(command, '--method <name>', 'PEFT method, one of the registered tuners', undefined, {
    defaultText: `the --init-adapter's or --config's peft_type, else lora; registered: ${methodFlagsMethods()}`,
  });
  option(command, '--config <file>', 'an adapter_config.json to start from (flags override its fields)');
  trainingOptions(command);
  option(command, '--revision <rev>', 'Hub revision of the base model', undefined, { defaultText: 'main' });
  option(command, '--gradient-checkpointing', 'recompute each decoder layer in the backward pass: activation memory of one layer, about one more forward pass of time', false);
  option(command, '--no-progress', 'do not show the progress bar', undefined, { defaultText: 'shown' });
  option(command, '--json', 'print a JSON summary on stdout', false);
  storageOptions(command);
  commonOptions(command);
  // The methods' config fields come after the common options, under headings: the fields most
  // methods share, then each group of methods' own (LoRA's with AdaLoRA's, which extends it).
  const flags = methodFlags();
  const heading = (flag: (typeof flags)[number]) => {
    const owners = flag.defaults.map((entry) => entry.method);
    return owners.length > 3 ? 'Method options shared by several methods:' : `${owners.join(', ')} options:`;
  };
  const grouped = [...flags].sort((a, b) => {
    const [groupA, groupB] = [heading(a), heading(b)];
    const sharedA = groupA.startsWith('Method') ? 0 : 1;
    const sharedB = groupB.startsWith('Method') ? 0 : 1;
    return sharedA - sharedB || (sharedA === 0 ? 0 : groupA.localeCompare(groupB));
  });
  for (const flag of grouped) {
    const defaults = flag.defaults.map((entry) => `${entry.method}: ${formatDefault(entry.value)}`).join('; ');
    option(command, `--${flagOf(flag.key)} ${flag.boolean ? '[bool]' : '<value>'}`, flag.help ? `${flag.key}: ${flag.help}` : `method config field ${flag.key}`, undefined, {
      defaultText: defaults,
      group: heading(flag),
    });
  }
  command.action(async (options: Record<string, any>) => {
    await checkOutputFolder(options.out);
    await startBackend(options.backend, io.env, options.verbose ? (line) => io.stderr(`${line}\n`) : undefined);
    const fileConfig = options.config ? await readJsonFile(options.config) : {};
    const methodText = options.method ?? (typeof fileConfig.peft_type === 'string' ? methodName(fileConfig.peft_type) : undefined);
    const method = methodText !== undefined || !options.initAdapter ? findMethod(methodText ?? 'lora') : undefined;
    if (method && typeof fileConfig.peft_type === 'string' && fileConfig.peft_type !== method.peftType) {
      throw new UsageError(`--config ${options.config} is a ${fileConfig.peft_type} config but --method is ${method.name}`);
    }
    const config: Record<string, unknown> = { ...fileConfig };
    for (const flag of flags) {
      const value = options[attributeOf(flag.key)];
      if (value === undefined) continue;
      if (method && !(flag.key in method.defaults)) {
        const owners = flag.defaults.map((entry) => entry.method).join(', ');
        throw new UsageError(
          `--${flagOf(flag.key)} is not a ${method.name} option (it belongs to ${owners}); ${method.name} takes ${Object.keys(method.defaults)
            .map((key) => `--${flagOf(key)}`)
            .join(', ')}`,
        );
      }
      config[flag.key] = parseFieldValue(flag.key, value === true ? true : value, method ? method.defaults[flag.key] : flag.defaults[0]?.value);
    }
    const rows = await readRows(options.data);
    const progress = createProgress(io, options.progress !== false);
    const log = (line: string) => io.stderr(`${line}\n`);
    let result;
    try {
      result = await trainAdapter({
        ...trainAdapterOptionsFrom(options, { method: method?.name, config, rows }),
        storage: storageFromFlags(options),
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
    log(
      `trained ${result.log.total_steps} steps in ${result.log.seconds.toFixed(1)} s (${result.log.tokens_per_second.toFixed(0)} tok/s); train loss ${first?.toFixed(4)} → ${last?.toFixed(4)}`,
    );
    log(`saved ${result.log.method} adapter to ${options.out}: ${result.files.map((file) => file.slice(options.out.length).replace(/^[\\/]/, '')).join(', ')}`);
    if (options.json) {
      io.stdout(
        `${JSON.stringify({
          out: options.out,
          method: result.log.method,
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
  return listMethods()
    .map((method) => method.name)
    .join(', ');
}
