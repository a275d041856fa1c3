import { initBackend, formatBackendReport } from '@peftjs/runtime';
import { runQuickstart } from './quickstart';

const report = await initBackend();
console.log(formatBackendReport(report));
const result = await runQuickstart({ log: (line) => console.log(line) });
const ok = result.newTaskLossAfter < result.newTaskLossBefore && result.reloadMaxDifference < 1e-5 && result.mergeMaxDifference < 1e-4;
console.log(ok ? 'quickstart: all checks passed' : 'quickstart: a check failed');
process.exit(ok ? 0 : 1);
