#!/usr/bin/env node
import { isTopLevelRequest } from './command-summaries';

const argv = process.argv.slice(2);
if (isTopLevelRequest(argv)) {
  // `peftjs`, `--help`, `--version`: answered from the command summaries, without loading
  // TensorFlow.js or any method (the full CLI takes about a second to load).
  const { runTopLevelRequest } = await import('./top-level-help');
  process.exitCode = runTopLevelRequest(argv);
} else {
  const { runCli } = await import('./cli');
  process.exitCode = await runCli(argv);
}
