import { initBackend, formatBackendReport } from '@peftjs/runtime';
import { runMobileNetLora } from './mobilenet-lora';

console.log(formatBackendReport(await initBackend()));
const report = await runMobileNetLora({ trainImages: 32, epochs: 6, out: 'out/mobilenet-stripes-lora', log: (line) => console.log(line) });
const ok = report.lossAfter < report.lossBefore && report.baseWeightsUnchanged;
console.log(ok ? 'mobilenet-lora: all checks passed' : 'mobilenet-lora: a check failed');
process.exit(ok ? 0 : 1);
