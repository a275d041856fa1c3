import { initBackend, formatBackendReport } from '@peftjs/runtime';
import { runPythonAdapter } from './python-adapter';

console.log(formatBackendReport(await initBackend()));
const report = await runPythonAdapter((line) => console.log(line));
console.log(report.equal ? "python-adapter: every output equals Python PEFT's" : "python-adapter: some outputs differ from Python PEFT's");
process.exit(report.equal ? 0 : 1);
