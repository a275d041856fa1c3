import { initBackend, formatBackendReport } from '@peftjs/runtime';
import { createProgress, processIo } from '@peftjs/cli';
import { runMainJob } from './main-job';

const started = performance.now();
console.log(formatBackendReport(await initBackend()));
const progress = createProgress(processIo(), true);
const report = await runMainJob({
  log: (line) => {
    progress.stop();
    console.log(line);
  },
  onStep: (step) => progress.update(step),
});
progress.stop();
const checks: Array<[string, boolean]> = [
  ['the answer loss fell', report.lossAfter < report.lossBefore * 0.5],
  ['more held-out questions are answered exactly', report.heldOutExactAfter > report.heldOutExactBefore],
  ['the reloaded adapter gives the same logits', report.reloadMaxDifference < 1e-5 && report.reloadedGenerationsEqual],
  ['the merged model gives the same logits', report.mergeMaxDifference < 1e-4 && report.mergedGenerationsEqual],
];
for (const [name, ok] of checks) console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}`);
console.log(
  `main job: ${checks.every(([, ok]) => ok) ? 'all checks passed' : 'a check failed'} in ${((performance.now() - started) / 1000).toFixed(0)} s (training ${report.trainSeconds.toFixed(0)} s, ${report.tokensPerSecond.toFixed(0)} tok/s)`,
);
process.exit(checks.every(([, ok]) => ok) ? 0 : 1);
