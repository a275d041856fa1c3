import type { AdapterFileContents } from '@peftjs/hub';
import type { BackendPreference, BackendReport } from './backend';
import { LossPlot } from './loss-plot';
import type { Reply, Request, Results, StepEvent, WorkerMessage } from './protocol';
import { SAMPLE_ID_PROMPT, SAMPLE_PROMPT, SAMPLE_QA_JSONL, sampleIdRows } from './sample-data';
import type { WeightStorage } from './model-files';
import type { AdapterSummary, GenerateReport, Generation, Method, ModelSummary, StepReport, TrainSettings } from './session';

// ---- elements ------------------------------------------------------------------------------

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const input = (id: string) => $<HTMLInputElement>(id);
const backendLine = $('backend');
const messageBox = $('message');
const modelStatus = $('model-status');
const dataBox = $<HTMLTextAreaElement>('data');
const trainButton = $<HTMLButtonElement>('train');
const stopButton = $<HTMLButtonElement>('stop');
const progress = $<HTMLProgressElement>('progress');
const trainStatus = $('train-status');
const promptBox = $<HTMLTextAreaElement>('prompt');
const generateButton = $<HTMLButtonElement>('generate');
const adapterStatus = $('adapter-status');
const downloadButton = $<HTMLButtonElement>('download');
const downloadConfig = $<HTMLAnchorElement>('download-config');
const downloadWeights = $<HTMLAnchorElement>('download-weights');
const saveFolderButton = $<HTMLButtonElement>('save-folder');
const plot = new LossPlot(document.getElementById('loss-plot') as unknown as SVGSVGElement);

// ---- the worker ----------------------------------------------------------------------------

/** An error the worker reported; `user` when it is about the input (shown as is). */
class WorkerError extends Error {
  constructor(
    message: string,
    readonly user: boolean,
  ) {
    super(message);
  }
}

const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
let nextId = 1;
let onStep: ((report: StepReport) => void) | undefined;

type Payload<T extends Request['type']> = Omit<Extract<Request, { type: T }>, 'id' | 'type'>;

function call<T extends Request['type']>(type: T, payload: Payload<T>): Promise<Results[T]> {
  const id = nextId++;
  return new Promise<Results[T]>((resolve, reject) => {
    pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
    worker.postMessage({ ...payload, type, id });
  });
}

worker.onmessage = (event: MessageEvent<WorkerMessage>) => {
  const message = event.data;
  if (message.type === 'step') {
    onStep?.((message as StepEvent).report);
    return;
  }
  const reply = message as Reply;
  const waiting = pending.get(reply.id);
  pending.delete(reply.id);
  if (reply.type === 'result') waiting?.resolve(reply.result);
  else waiting?.reject(new WorkerError(reply.message, reply.user));
};
worker.onerror = (event) => {
  showMessage(`The worker stopped: ${event.message || 'it failed to load'}. Reload the page to start again.`);
  for (const waiting of pending.values()) waiting.reject(new WorkerError('the worker stopped', false));
  pending.clear();
};

// ---- page state ----------------------------------------------------------------------------

let model: ModelSummary | undefined;
let adapter: AdapterSummary | undefined;
let busy: 'loading' | 'training' | 'generating' | 'adapter' | undefined = 'loading';
let downloadUrls: string[] = [];
let adapterFiles: AdapterFileContents | undefined;
/** The samples put in the boxes, so a new model replaces them but never what the person typed. */
let sampleData = '';
let samplePrompt = '';

function showMessage(text: string, kind: 'error' | 'info' = 'error'): void {
  $('message-text').textContent = text;
  messageBox.dataset.kind = kind;
  messageBox.hidden = false;
}
function clearMessage(): void {
  messageBox.hidden = true;
  $('message-text').textContent = '';
}
$('message-close').addEventListener('click', clearMessage);

function describeError(error: unknown): string {
  if (error instanceof WorkerError && error.user) return error.message;
  return `Something went wrong: ${error instanceof Error ? error.message : String(error)}`;
}

function setStatus(element: HTMLElement, text: string, state: string): void {
  element.textContent = text;
  element.dataset.state = state;
}

function refresh(): void {
  const idle = busy === undefined;
  const ready = idle && model !== undefined;
  trainButton.disabled = !ready;
  stopButton.disabled = busy !== 'training';
  generateButton.disabled = !ready;
  for (const id of ['load-demo', 'model-folder', 'model-files']) ($(id) as HTMLButtonElement | HTMLInputElement).disabled = !idle;
  for (const id of ['adapter-folder', 'adapter-files']) input(id).disabled = !ready;
  const canDownload = idle && adapterFiles !== undefined;
  downloadButton.disabled = !canDownload;
  saveFolderButton.disabled = !canDownload;
  for (const link of [downloadConfig, downloadWeights]) link.setAttribute('aria-disabled', String(!canDownload));
  document.body.dataset.busy = busy ?? '';
}

async function run<T>(kind: NonNullable<typeof busy>, task: () => Promise<T>): Promise<T | undefined> {
  if (busy) return undefined;
  busy = kind;
  clearMessage();
  refresh();
  try {
    return await task();
  } catch (error) {
    showMessage(describeError(error));
    return undefined;
  } finally {
    busy = undefined;
    refresh();
  }
}

function formatCount(count: number): string {
  return count >= 1e6 ? `${(count / 1e6).toFixed(2)}M` : count >= 1e3 ? `${(count / 1e3).toFixed(1)}k` : String(count);
}

function formatBytes(bytes: number): string {
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MB` : bytes >= 1 << 10 ? `${(bytes / (1 << 10)).toFixed(1)} kB` : `${bytes} bytes`;
}

// ---- backend -------------------------------------------------------------------------------

const BACKEND_LABELS = { webgpu: 'WebGPU', webgl: 'WebGL', wasm: 'WebAssembly' } as const;

function showBackend(report: BackendReport): void {
  backendLine.dataset.backend = report.name;
  backendLine.replaceChildren();
  const strong = document.createElement('strong');
  strong.textContent = BACKEND_LABELS[report.name];
  backendLine.append('Running on ', strong, ` (${report.detail})`);
  if (report.requested) backendLine.append(` — as asked with ?backend=${report.name}; without it the page picks the fastest`);
  if (report.skipped.length > 0) {
    const skipped = document.createElement('span');
    skipped.className = 'skipped';
    skipped.textContent = ` — passed over: ${report.skipped.map((entry) => `${BACKEND_LABELS[entry.name]} (${entry.reason})`).join('; ')}`;
    backendLine.append(skipped);
  }
}

// ---- the base model ------------------------------------------------------------------------

function showModel(summary: ModelSummary): void {
  model = summary;
  const parts = [
    summary.architecture,
    `${summary.layers} layers`,
    summary.hiddenSize ? `hidden ${summary.hiddenSize}` : undefined,
    summary.vocabSize ? `vocabulary ${summary.vocabSize}` : undefined,
    `${formatCount(summary.parameters)} parameters`,
    summary.hasTokenizer ? 'tokenizer.json' : 'no tokenizer: token ids in and out',
    `frozen weights: ${summary.storageLabel}`,
  ].filter(Boolean);
  setStatus(modelStatus, `${summary.name} — ${parts.join(' · ')}`, 'loaded');
  modelStatus.dataset.name = summary.name;
  modelStatus.dataset.storage = summary.storage;
  modelStatus.dataset.storedBytes = String(summary.storedBytes);
  const data = summary.hasTokenizer ? SAMPLE_QA_JSONL : sampleIdRows(summary.vocabSize ?? 16);
  const prompt = summary.hasTokenizer ? SAMPLE_PROMPT : SAMPLE_ID_PROMPT;
  if (dataBox.value === sampleData) dataBox.value = sampleData = data;
  if (promptBox.value === samplePrompt) promptBox.value = samplePrompt = prompt;
  setAdapter(undefined);
  setStatus(trainStatus, 'Ready to train.', 'idle');
  for (const id of ['output-base', 'output-adapted']) showGeneration(id, undefined);
}

async function loadModel(files: Record<string, Blob>, name: string): Promise<void> {
  await run('loading', async () => {
    setStatus(modelStatus, `Loading ${name}…`, 'loading');
    try {
      showModel(await call('load-model', { files, name, storage: $<HTMLSelectElement>('weight-storage').value as WeightStorage }));
    } catch (error) {
      // The previous model (if any) is still loaded in the worker.
      if (model) setStatus(modelStatus, `${model.name} is still loaded.`, 'loaded');
      else setStatus(modelStatus, 'No model loaded.', 'none');
      throw error;
    }
  });
}

$('load-demo').addEventListener('click', async () => {
  const base = new URL('demo-base/', document.baseURI);
  let manifest: { name: string; files: string[] };
  try {
    manifest = await (await fetch(new URL('manifest.json', base))).json();
  } catch (error) {
    showMessage(`Could not fetch the demo model: ${(error as Error).message}`);
    return;
  }
  const files: Record<string, Blob> = {};
  await Promise.all(
    manifest.files.map(async (file) => {
      const response = await fetch(new URL(file, base));
      if (response.ok) files[file] = await response.blob();
    }),
  );
  await loadModel(files, manifest.name);
});

/** Files by base name from the shallowest folder that holds `marker` (a picked folder may hold sub-folders). */
function filesBeside(list: FileList | ReadonlyArray<{ file: File; path: string }>, marker: string): { files: Record<string, Blob>; folder: string } | undefined {
  const entries = Array.from(list as ArrayLike<File | { file: File; path: string }>).map((item) => {
    const file = item instanceof File ? item : item.file;
    const path = (item instanceof File ? item.webkitRelativePath || item.name : item.path).split('/');
    return { file, name: path.at(-1)!, folder: path.slice(0, -1).join('/') };
  });
  const candidates = entries.filter((entry) => entry.name === marker).sort((a, b) => a.folder.split('/').length - b.folder.split('/').length);
  const folder = candidates[0]?.folder ?? (entries[0]?.folder || '');
  const files: Record<string, Blob> = {};
  for (const entry of entries) if (entry.folder === folder) files[entry.name] = entry.file;
  return Object.keys(files).length > 0 ? { files, folder } : undefined;
}

for (const id of ['model-folder', 'model-files']) {
  input(id).addEventListener('change', async (event) => {
    const target = event.target as HTMLInputElement;
    const picked = target.files && filesBeside(target.files, 'config.json');
    target.value = '';
    if (!picked) return;
    await loadModel(picked.files, picked.folder.split('/').at(-1) || 'my-model');
  });
}

/** The files of a dropped folder (read recursively) or the dropped files, with their paths. */
async function droppedFiles(transfer: DataTransfer): Promise<Array<{ file: File; path: string }>> {
  const out: Array<{ file: File; path: string }> = [];
  const visit = async (entry: FileSystemEntry, folder: string): Promise<void> => {
    if (entry.isFile) {
      const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
      out.push({ file, path: folder ? `${folder}/${entry.name}` : entry.name });
      return;
    }
    const reader = (entry as FileSystemDirectoryEntry).createReader();
    const path = folder ? `${folder}/${entry.name}` : entry.name;
    // readEntries gives a directory's entries in batches, until an empty one.
    for (;;) {
      const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
      if (batch.length === 0) break;
      for (const child of batch) await visit(child, path);
    }
  };
  const entries = Array.from(transfer.items)
    .map((item) => item.webkitGetAsEntry?.())
    .filter((entry): entry is FileSystemEntry => entry != null);
  if (entries.length > 0) for (const entry of entries) await visit(entry, '');
  else for (const file of Array.from(transfer.files)) out.push({ file, path: file.name });
  return out;
}

const modelSection = $('model-section');
modelSection.addEventListener('dragover', (event) => {
  if (busy || !event.dataTransfer?.types.includes('Files')) return;
  event.preventDefault();
  modelSection.classList.add('dragging');
});
modelSection.addEventListener('dragleave', () => modelSection.classList.remove('dragging'));
modelSection.addEventListener('drop', async (event) => {
  event.preventDefault();
  modelSection.classList.remove('dragging');
  if (busy || !event.dataTransfer) return;
  const dropped = await droppedFiles(event.dataTransfer);
  // As a picked folder: the folder holding config.json wins.
  const picked = filesBeside(dropped, 'config.json');
  if (!picked?.files['config.json']) {
    showMessage(`Drop a model folder, or its config.json and model.safetensors (got ${dropped.map(({ path }) => path).join(', ') || 'nothing readable'}).`);
    return;
  }
  await loadModel(picked.files, picked.folder.split('/').at(-1) || 'my-model');
});

// ---- training ------------------------------------------------------------------------------

function selectedMethod(): Method {
  return (document.querySelector<HTMLInputElement>('input[name="method"]:checked')?.value ?? 'lora') as Method;
}

function showMethodSettings(): void {
  const method = selectedMethod();
  for (const label of Array.from(document.querySelectorAll<HTMLElement>('.settings [data-for]'))) label.hidden = !label.dataset.for!.split(' ').includes(method);
  // Prompt tuning learns a few vectors from scratch: it wants a larger learning rate.
  const rate = input('learning-rate');
  if (rate.dataset.touched !== 'true') rate.value = method === 'lora' ? '0.01' : '0.03';
}
for (const radio of Array.from(document.querySelectorAll<HTMLInputElement>('input[name="method"]'))) radio.addEventListener('change', showMethodSettings);
input('learning-rate').addEventListener('input', () => (input('learning-rate').dataset.touched = 'true'));
showMethodSettings();

function settings(): TrainSettings {
  const number = (id: string) => Number(input(id).value);
  return {
    method: selectedMethod(),
    steps: number('steps'),
    batchSize: number('batch-size'),
    learningRate: number('learning-rate'),
    maxLength: number('max-length'),
    seed: number('seed'),
    r: number('lora-r'),
    loraAlpha: number('lora-alpha'),
    targetModules: input('target-modules')
      .value.split(/[\s,]+/)
      .filter((name) => name !== ''),
    numVirtualTokens: number('virtual-tokens'),
    promptInitText: input('prompt-init-text').value,
    gradientCheckpointing: input('gradient-checkpointing').checked,
  };
}

function formatSeconds(seconds: number): string {
  return seconds < 60 ? `${seconds.toFixed(seconds < 10 ? 1 : 0)} s` : `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

trainButton.addEventListener('click', async () => {
  const chosen = settings();
  const before = { text: trainStatus.textContent ?? '', state: trainStatus.dataset.state ?? 'idle' };
  setStatus(trainStatus, 'Preparing…', 'training');
  // The plot of the last run stays until the new one has its first step: bad data loses nothing.
  let steps = 0;
  onStep = (report) => {
    if (steps++ === 0) plot.reset(report.totalSteps);
    plot.add(report.loss);
    progress.value = report.step / report.totalSteps;
    const heap = report.heapBytes === undefined ? '' : ` · wasm heap ${formatBytes(report.heapBytes)}`;
    setStatus(
      trainStatus,
      `step ${report.step}/${report.totalSteps} · loss ${report.loss.toFixed(3)} · ${report.stepSeconds.toFixed(2)} s/step · epoch ${report.epoch.toFixed(1)} · ${Math.round(report.tokensPerSecond)} tokens/s${heap} · ${formatSeconds(report.etaSeconds)} left`,
      'training',
    );
    trainStatus.dataset.stepSeconds = String(report.stepSeconds);
    if (report.heapBytes !== undefined) trainStatus.dataset.heapBytes = String(report.heapBytes);
  };
  const report = await run('training', () => call('train', { data: dataBox.value, settings: chosen }));
  onStep = undefined;
  if (!report) {
    if (steps === 0) setStatus(trainStatus, before.text, before.state);
    else setStatus(trainStatus, `Training failed after ${steps} steps.`, 'failed');
    return;
  }
  progress.value = 1;
  setStatus(
    trainStatus,
    `${report.stopped ? 'Stopped after' : 'Trained'} ${report.steps} steps on ${report.examples} examples in ${formatSeconds(report.seconds)} — loss on your data ${report.dataLossBefore.toFixed(3)} → ${report.dataLossAfter.toFixed(3)}`,
    report.stopped ? 'stopped' : 'done',
  );
  trainStatus.dataset.lossBefore = String(report.dataLossBefore);
  trainStatus.dataset.lossAfter = String(report.dataLossAfter);
  showGeneration('output-adapted', undefined);
  await showAdapter(report.adapter);
});

stopButton.addEventListener('click', () => {
  worker.postMessage({ type: 'stop' });
  setStatus(trainStatus, 'Stopping after this step…', 'training');
});

input('data-file').addEventListener('change', async (event) => {
  const target = event.target as HTMLInputElement;
  const file = target.files?.[0];
  target.value = '';
  if (!file) return;
  dataBox.value = await file.text();
  if (dataBox.value.trim() === '') showMessage(`${file.name} is empty.`);
});

// ---- generation ----------------------------------------------------------------------------

function showGeneration(id: string, generation: Generation | undefined, promptIds: number[] = []): void {
  const panel = $(id);
  const text = panel.querySelector('.text')!;
  panel.dataset.ids = generation ? JSON.stringify(generation.ids) : '';
  panel.dataset.logits = generation ? JSON.stringify(generation.logits) : '';
  panel.dataset.promptIds = generation ? JSON.stringify(promptIds) : '';
  if (!generation) text.textContent = id === 'output-adapted' && model && !adapter ? 'no adapter yet' : '—';
  else text.textContent = generation.text !== undefined ? generation.text : generation.ids.join(' ');
}

generateButton.addEventListener('click', async () => {
  const maxNewTokens = Number(input('max-new-tokens').value);
  const report = await run('generating', () => call('generate', { prompt: promptBox.value, maxNewTokens }));
  if (!report) return;
  showReport(report);
});

function showReport(report: GenerateReport): void {
  showGeneration('output-base', report.base, report.promptIds);
  showGeneration('output-adapted', report.adapted, report.promptIds);
}

// ---- the adapter ---------------------------------------------------------------------------

function setAdapter(summary: AdapterSummary | undefined, files?: AdapterFileContents): void {
  adapter = summary;
  adapterFiles = files;
  for (const url of downloadUrls) URL.revokeObjectURL(url);
  downloadUrls = [];
  if (!summary || !files) {
    downloadConfig.removeAttribute('href');
    downloadWeights.removeAttribute('href');
    setStatus(adapterStatus, 'No adapter yet: train one, or load one.', 'none');
    $('adapter-config-details').hidden = true;
    refresh();
    return;
  }
  const configUrl = URL.createObjectURL(new Blob([files['adapter_config.json']], { type: 'application/json' }));
  const weightsUrl = URL.createObjectURL(new Blob([files['adapter_model.safetensors'] as BlobPart], { type: 'application/octet-stream' }));
  downloadUrls = [configUrl, weightsUrl];
  downloadConfig.href = configUrl;
  downloadWeights.href = weightsUrl;
  const percent = ((100 * summary.adapterParameters) / summary.allParameters).toFixed(2);
  setStatus(
    adapterStatus,
    `${summary.peftType} adapter (${summary.origin}) — ${summary.adapterParameters.toLocaleString('en-US')} parameters, ${percent}% of the model; ` +
      `adapter_model.safetensors is ${formatBytes(files['adapter_model.safetensors'].byteLength)}.`,
    summary.origin,
  );
  adapterStatus.dataset.peftType = summary.peftType;
  $('adapter-config').textContent = files['adapter_config.json'];
  $('adapter-config-details').hidden = false;
  refresh();
}

async function showAdapter(summary: AdapterSummary): Promise<void> {
  try {
    setAdapter(summary, await call('adapter-files', {}));
  } catch (error) {
    showMessage(describeError(error));
  }
}

downloadButton.addEventListener('click', () => {
  downloadConfig.click();
  // Browsers ask before a second download in a row; a short pause keeps it from looking automatic.
  setTimeout(() => downloadWeights.click(), 300);
});

interface DirectoryHandle {
  getFileHandle(name: string, options: { create: boolean }): Promise<{ createWritable(): Promise<{ write(data: Blob | string): Promise<void>; close(): Promise<void> }> }>;
}
const pickDirectory = (window as unknown as { showDirectoryPicker?: (options?: { mode?: string }) => Promise<DirectoryHandle> }).showDirectoryPicker;
saveFolderButton.hidden = pickDirectory === undefined;
saveFolderButton.addEventListener('click', async () => {
  if (!pickDirectory || !adapterFiles) return;
  try {
    const folder = await pickDirectory({ mode: 'readwrite' });
    for (const [name, content] of Object.entries(adapterFiles)) {
      const writable = await (await folder.getFileHandle(name, { create: true })).createWritable();
      await writable.write(typeof content === 'string' ? content : new Blob([content as BlobPart]));
      await writable.close();
    }
    showMessage('Saved adapter_config.json and adapter_model.safetensors.', 'info');
  } catch (error) {
    if ((error as Error).name !== 'AbortError') showMessage(`Could not save the adapter: ${(error as Error).message}`);
  }
});

for (const id of ['adapter-folder', 'adapter-files']) {
  input(id).addEventListener('change', async (event) => {
    const target = event.target as HTMLInputElement;
    const picked = target.files && filesBeside(target.files, 'adapter_config.json');
    target.value = '';
    if (!picked) return;
    const label = picked.folder ? `${picked.folder}/` : Object.keys(picked.files).join(' + ');
    await run('adapter', async () => {
      const summary = await call('load-adapter', { files: picked.files, label });
      setAdapter(summary, await call('adapter-files', {}));
      showMessage(`Loaded the ${summary.peftType} adapter from ${label}. Generate to compare it with the base model.`, 'info');
      for (const panel of ['output-base', 'output-adapted']) showGeneration(panel, undefined);
    });
  });
}

// ---- start ---------------------------------------------------------------------------------

const requested = new URLSearchParams(location.search).get('backend');
const preference: BackendPreference = requested === 'webgpu' || requested === 'webgl' || requested === 'wasm' ? requested : 'auto';
refresh();
call('init', { backend: preference, wasmPath: new URL('tfjs-wasm/', document.baseURI).href })
  .then((report) => {
    showBackend(report);
    busy = undefined;
    refresh();
    if (new URLSearchParams(location.search).has('demo')) $('load-demo').click();
  })
  .catch((error: unknown) => {
    backendLine.dataset.backend = 'none';
    backendLine.textContent = 'No TensorFlow.js backend works in this browser.';
    showMessage(describeError(error));
  });
