import { Command, CommanderError } from 'commander';
import { NoSuchTunerError, setWarningHandler } from '@peftjs/core';
import { processIo, type CliIo } from './cli-io';
import { CLI_VERSION, PROGRAM_DESCRIPTION } from './command-summaries';

export { CLI_VERSION };
import { evalCommand } from './commands/eval';
import { generateCommand } from './commands/generate';
import { pullCommand, pushCommand } from './commands/hub';
import { inspectCommand } from './commands/inspect';
import { mergeCommand } from './commands/merge';
import { predictCommand } from './commands/predict';
import { trainCommand } from './commands/train';
import { loadPlugin, registerBuiltinTuners } from './util/methods';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, isUserError } from './util/usage-error';
import { asMemoryError } from './util/storage-options';

/** The values of every `--plugin X` / `--plugin=X` in argv (loaded before the commands are built, so their flags exist). */
function pluginArguments(argv: readonly string[]): string[] {
  const plugins: string[] = [];
  argv.forEach((argument, index) => {
    if (argument === '--plugin' && argv[index + 1] !== undefined) plugins.push(argv[index + 1]!);
    else if (argument.startsWith('--plugin=')) plugins.push(argument.slice('--plugin='.length));
  });
  return plugins;
}

export function buildProgram(io: CliIo): Command {
  const program = new Command('peftjs').description(PROGRAM_DESCRIPTION).version(CLI_VERSION, '-V, --version', 'print the version').showSuggestionAfterError(true);
  for (const make of [trainCommand, generateCommand, predictCommand, evalCommand, mergeCommand, inspectCommand, pushCommand, pullCommand]) {
    program.addCommand(make(io));
  }
  return program;
}

function configureOutput(command: Command, io: CliIo): void {
  command.exitOverride();
  command.configureOutput({
    writeOut: (text) => io.stdout(text),
    writeErr: (text) => io.stderr(text),
    outputError: (text, write) => write(`peftjs: ${text.trim().replace(/\s*\n\s*/g, ' ')}\n`),
  });
  for (const child of command.commands) configureOutput(child, io);
}

/**
 * Runs the `peftjs` command line in-process and returns the exit code: 0 on success, 2 on a
 * user error (one line on stderr; the stack with --verbose), 1 on an unexpected failure.
 */
export async function runCli(argv: readonly string[], partialIo: Partial<CliIo> = {}): Promise<number> {
  const io: CliIo = { ...processIo(), ...partialIo };
  const verbose = argv.includes('--verbose');
  const restoreWarnings = setWarningHandler((message) => io.stderr(`warning: ${message}\n`));
  try {
    registerBuiltinTuners();
    for (const plugin of pluginArguments(argv)) await loadPlugin(plugin);
    const program = buildProgram(io);
    configureOutput(program, io);
    if (argv.length === 0) {
      io.stderr(program.helpInformation());
      return EXIT_USAGE;
    }
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT_OK;
  } catch (thrown) {
    if (thrown instanceof CommanderError) {
      if (thrown.code === 'commander.helpDisplayed' || thrown.code === 'commander.help' || thrown.code === 'commander.version') return EXIT_OK;
      return EXIT_USAGE;
    }
    const error = asMemoryError(thrown);
    const user = isUserError(error);
    let message = error instanceof Error ? error.message : String(error);
    // The CLI's own way to add a method that is not built in.
    if (NoSuchTunerError.isInstance(error)) message = `${message.replace(/\.?\s*$/, '')}; a third-party method loads with --plugin <package|file>`;
    io.stderr(`peftjs: ${user ? 'error' : 'internal error'}: ${verbose ? message : message.split('\n')[0]}\n`);
    if (verbose && error instanceof Error && error.stack) io.stderr(`${error.stack}\n`);
    else if (!user) io.stderr('(run with --verbose for the stack trace)\n');
    return user ? EXIT_USAGE : EXIT_FAILURE;
  } finally {
    setWarningHandler(restoreWarnings);
  }
}
