import { CommanderError } from 'commander';
import { summaryProgram } from './command-summaries';

/** Prints the top-level help or the version, as the full CLI does; returns the exit code. */
export function runTopLevelRequest(
  argv: readonly string[],
  write: { stdout(text: string): void; stderr(text: string): void } = {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  },
): number {
  const program = summaryProgram();
  if (argv.length === 0) {
    // As the full CLI: no command is a usage error, with the help on stderr.
    write.stderr(program.helpInformation());
    return 2;
  }
  program.exitOverride().configureOutput({ writeOut: write.stdout, writeErr: write.stderr });
  try {
    program.parse([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 || error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? 0 : 2;
    throw error;
  }
  return 0;
}
