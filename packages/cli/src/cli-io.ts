/** Where the CLI writes: the process's streams, or anything a test captures. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Draw a live progress bar (a terminal); otherwise progress is printed as occasional lines. */
  readonly isTTY: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export function processIo(): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    isTTY: Boolean(process.stderr.isTTY),
    env: process.env,
  };
}
