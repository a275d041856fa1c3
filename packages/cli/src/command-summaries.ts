import { Command, Option } from 'commander';

/** The CLI's version (printed by --version). */
export const CLI_VERSION = '0.1.0';

export const PROGRAM_DESCRIPTION = 'Parameter-efficient fine-tuning (LoRA, IA3, prompt tuning, …) on TensorFlow.js, file-compatible with Hugging Face PEFT.';

/**
 * Each command's one-line description and arguments: the commands use them, and so does the
 * top-level help, which is printed without loading TensorFlow.js or any method (fast `--help`).
 */
export const COMMAND_SUMMARIES = {
  train: { description: "fine-tune an adapter on a causal LM with HF Trainer's recipe and save it in PEFT format", arguments: [] },
  generate: { description: 'generate text (or token ids) with a causal LM or an encoder-decoder (decoder ids), with or without adapters', arguments: [] },
  predict: { description: 'run the model once and write its logits to a safetensors file', arguments: [] },
  eval: { description: 'mean token cross-entropy and perplexity of a causal LM (or an encoder-decoder, on {"input_ids","labels"} rows) on a data file', arguments: [] },
  merge: { description: 'fold adapters into the base weights and write a transformers model folder', arguments: [] },
  inspect: { description: 'show an adapter: method, config, tensors, parameter count, file sizes', arguments: [['<adapter>', 'adapter folder or Hub repo id']] },
  push: {
    description: 'upload a folder (an adapter, a merged model) to a Hub repo in one commit, creating the repo if needed',
    arguments: [
      ['<dir>', 'the folder to upload'],
      ['<repo>', 'Hub repo id, org/name'],
    ],
  },
  pull: { description: 'download a Hub repo into the Hugging Face cache and print its folder', arguments: [['<repo>', 'Hub repo id, org/name']] },
} as const satisfies Record<string, { description: string; arguments: ReadonlyArray<readonly [string, string]> }>;

export type CommandName = keyof typeof COMMAND_SUMMARIES;

/** A command with its summary's name, description and arguments. */
export function summarizedCommand(name: CommandName): Command {
  const summary = COMMAND_SUMMARIES[name];
  const command = new Command(name).description(summary.description);
  for (const [argument, description] of summary.arguments) command.argument(argument, description);
  return command;
}

/** The top-level program with every command as a stub (no options of its own, nothing loaded). */
export function summaryProgram(): Command {
  const program = new Command('peftjs').description(PROGRAM_DESCRIPTION).version(CLI_VERSION, '-V, --version', 'print the version');
  for (const name of Object.keys(COMMAND_SUMMARIES) as CommandName[]) {
    // Every real command has options: a hidden one makes the stub's line read "name [options]" too.
    program.addCommand(summarizedCommand(name).addOption(new Option('--stub').hideHelp()));
  }
  return program;
}

/** argv asks only for the top-level help or the version (what `summaryProgram` can answer). */
export function isTopLevelRequest(argv: readonly string[]): boolean {
  return argv.length === 0 || (argv.length === 1 && ['--help', '-h', 'help', '--version', '-V'].includes(argv[0]!));
}
