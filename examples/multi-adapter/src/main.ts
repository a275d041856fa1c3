import { initBackend, formatBackendReport } from '@peftjs/runtime';
import { runMultiAdapter } from './multi-adapter';

console.log(formatBackendReport(await initBackend()));
const report = await runMultiAdapter((line) => console.log(line));
const ok =
  report.pythonDifference < 1e-4 &&
  report.disabledDifference < 1e-4 &&
  report.mixedDifference < 1e-4 &&
  JSON.stringify(report.mixedGeneration) === JSON.stringify(report.separateGeneration);
console.log(ok ? 'multi-adapter: all checks passed' : 'multi-adapter: a check failed');
process.exit(ok ? 0 : 1);
