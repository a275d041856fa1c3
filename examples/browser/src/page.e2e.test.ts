// The page, end to end, in Debian's Chromium (headless, driven by playwright-core): build it with
// Vite, serve it on 127.0.0.1, load the demo model, train, watch the loss fall in the plot,
// generate, download the adapter, and check that the downloaded files load in Node with
// @peftjs/hub and give the outputs the page showed. Skipped when /usr/bin/chromium is missing.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import { registerTuner } from '@peftjs/core';
import { fromPretrained } from '@peftjs/hub';
import { lora } from '@peftjs/lora';
import { AutoModelForCausalLM, generate } from '@peftjs/models';
import { initBackend } from '@peftjs/runtime';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHAPES } from '@peftjs/bench/scale/model-shapes';
import { writeRandomCheckpoint } from '@peftjs/bench/scale/write-random-checkpoint';
import { findDemoBase } from '../demo-base';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`examples/browser: ${CHROMIUM} is not installed, so the in-browser test is skipped (apt-get install -y chromium)`);

const exampleDir = fileURLToPath(new URL('../', import.meta.url));
const artifacts = join(exampleDir, 'artifacts');
const demo = findDemoBase();
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json' };

let workDir: string;
let server: Server;
let url: string;
let browser: Browser;
let page: Page;
/** What the LoRA adapter trained in the page generated, to compare after reloading it. */
let trained: { promptIds: number[]; ids: number[]; logits: number[] } | undefined;
/** The losses of the LoRA run on wasm, to compare another backend's first steps with. */
let wasmLosses: number[] = [];

/** Peak and current resident memory (VmHWM, VmRSS) of each process of the browser launched with `marker` in its command line. */
function browserMemory(marker: string): Array<{ pid: number; type: string; peak: number; resident: number }> {
  const processes = new Map<number, { parent: number; command: string; peak: number; resident: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const status = readFileSync(`/proc/${name}/status`, 'utf8');
      const field = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
      processes.set(Number(name), {
        parent: field('PPid'),
        command: readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' '),
        peak: field('VmHWM') * 1024,
        resident: field('VmRSS') * 1024,
      });
    } catch {
      // the process ended while being read
    }
  }
  const root = [...processes].find(([, process]) => process.command.includes(marker))?.[0];
  const inTree = (pid: number): boolean => pid === root || (pid > 1 && processes.has(pid) && inTree(processes.get(pid)!.parent));
  return [...processes]
    .filter(([pid]) => root !== undefined && inTree(pid))
    .map(([pid, process]) => ({ pid, type: /--type=(\S+)/.exec(process.command)?.[1] ?? 'browser', peak: process.peak, resident: process.resident }));
}

/** A tiny static file server for the built page. */
async function serve(root: string): Promise<Server> {
  const httpServer = createServer(async (request, response) => {
    let path = normalize(decodeURIComponent((request.url ?? '/').split('?')[0]!)).replace(/^(\.\.[/\\])+/, '');
    if (path.endsWith('/')) path += 'index.html';
    try {
      const body = await readFile(join(root, path));
      response.writeHead(200, { 'Content-Type': TYPES[extname(path)] ?? 'application/octet-stream' });
      response.end(body);
    } catch {
      response.writeHead(404);
      response.end();
    }
  });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  return httpServer;
}

const idle = () => page.waitForFunction(() => document.body.dataset.busy === '', null, { timeout: 90_000 });
const json = async <T>(selector: string, attribute: string): Promise<T> => JSON.parse((await page.getAttribute(selector, attribute)) ?? 'null') as T;
const mean = (values: readonly number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

/** Waits until the page shows training progress at step `step` or later. */
async function stepAtLeast(step: number): Promise<void> {
  await page.waitForFunction(
    (least) => {
      const status = document.getElementById('train-status')!;
      const shown = /^step (\d+)\//.exec(status.textContent ?? '');
      return (shown !== null && Number(shown[1]) >= least) || ['done', 'stopped', 'failed'].includes(status.dataset.state!);
    },
    step,
    { timeout: 60_000 },
  );
}

async function train(method: 'lora' | 'ia3' | 'prompt-tuning', steps: number): Promise<number[]> {
  await page.check(`input[name="method"][value="${method}"]`);
  await page.fill('#steps', String(steps));
  await page.click('#train');
  // Progress shows while the worker trains: the page stays live.
  await stepAtLeast(2);
  await page.waitForFunction(() => ['done', 'stopped', 'failed'].includes(document.getElementById('train-status')!.dataset.state!), null, { timeout: 90_000 });
  expect(await page.getAttribute('#train-status', 'data-state')).toBe('done');
  await idle();
  return json<number[]>('#loss-plot', 'data-losses');
}

async function generateInPage(): Promise<{ promptIds: number[]; base: number[]; adapted: number[]; adaptedLogits: number[]; baseLogits: number[] }> {
  await page.click('#generate');
  await page.waitForFunction(() => document.getElementById('output-adapted')!.dataset.ids !== '', null, { timeout: 60_000 });
  await idle();
  return {
    promptIds: await json<number[]>('#output-base', 'data-prompt-ids'),
    base: await json<number[]>('#output-base', 'data-ids'),
    baseLogits: await json<number[]>('#output-base', 'data-logits'),
    adapted: await json<number[]>('#output-adapted', 'data-ids'),
    adaptedLogits: await json<number[]>('#output-adapted', 'data-logits'),
  };
}

async function message(): Promise<string> {
  await page.waitForSelector('#message:not([hidden])', { timeout: 30_000 });
  await idle();
  return (await page.textContent('#message-text')) ?? '';
}

describe.skipIf(!hasChromium)(`the page in Chromium (${CHROMIUM})`, () => {
  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'peftjs-browser-e2e-'));
    const { build, createLogger } = await import('vite');
    await build({
      root: exampleDir,
      configFile: join(exampleDir, 'vite.config.ts'),
      customLogger: createLogger('error'),
      build: { outDir: join(workDir, 'dist'), emptyOutDir: true },
    });
    server = await serve(join(workDir, 'dist'));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const { chromium } = await import('playwright-core');
    // --no-sandbox: CI containers run as root, where Chromium's sandbox cannot start.
    // The marker switch (ignored by Chromium) finds this browser's processes for the memory report.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', `--peftjs-e2e=${workDir}`] });
    page = await browser.newPage({ acceptDownloads: true, viewport: { width: 1100, height: 900 } });
    page.on('pageerror', (error) => console.error('page error:', error.message));
    await initBackend({ backend: 'wasm' });
    registerTuner(lora);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('picks the fastest backend it has and says which', async () => {
    await page.goto(url);
    await page.waitForFunction(() => document.getElementById('backend')!.dataset.backend !== '', null, { timeout: 60_000 });
    const backend = await page.getAttribute('#backend', 'data-backend');
    expect(['webgpu', 'webgl', 'wasm']).toContain(backend);
    const line = (await page.textContent('#backend')) ?? '';
    expect(line).toMatch(/^Running on (WebGPU|WebGL|WebAssembly)/);
    // Whatever came before the backend in use was tried and is listed with the reason it was passed over.
    if (backend === 'wasm') expect(line).toMatch(/passed over: WebGPU \(.+\); WebGL \(.+\)/);
  });

  it('trains LoRA on the demo model, the loss falls, and the downloaded adapter gives the same outputs in Node', async () => {
    // wasm, as Node runs it, so the page's logits can be compared with Node's closely.
    await page.goto(`${url}?backend=wasm`);
    await page.waitForFunction(() => document.getElementById('backend')!.dataset.backend === 'wasm', null, { timeout: 60_000 });
    await page.click('#load-demo');
    await page.waitForSelector('#model-status[data-state="loaded"]', { timeout: 60_000 });
    expect(await page.getAttribute('#model-status', 'data-name')).toBe(demo.name);
    await idle();

    const losses = await train('lora', 20);
    wasmLosses = losses;
    expect(losses).toHaveLength(20);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(mean(losses.slice(-5))).toBeLessThan(0.6 * mean(losses.slice(0, 5)));
    expect(Number(await page.getAttribute('#train-status', 'data-loss-after'))).toBeLessThan(Number(await page.getAttribute('#train-status', 'data-loss-before')));
    expect(await page.locator('#loss-plot polyline.raw').count()).toBe(1);
    expect(await page.getAttribute('#adapter-status', 'data-peft-type')).toBe('LORA');

    const generated = await generateInPage();
    expect(generated.adapted.length).toBeGreaterThan(0);
    expect(generated.adaptedLogits).not.toEqual(generated.baseLogits);
    trained = { promptIds: generated.promptIds, ids: generated.adapted, logits: generated.adaptedLogits };
    await mkdir(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, 'after-training.png'), fullPage: true });

    const adapterDir = join(workDir, 'downloaded');
    await mkdir(adapterDir);
    for (const [link, file] of [
      ['#download-config', 'adapter_config.json'],
      ['#download-weights', 'adapter_model.safetensors'],
    ] as const) {
      const [download] = await Promise.all([page.waitForEvent('download'), page.click(link)]);
      expect(download.suggestedFilename()).toBe(file);
      await download.saveAs(join(adapterDir, file));
    }
    const config = JSON.parse(await readFile(join(adapterDir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ peft_type: 'LORA', task_type: 'CAUSAL_LM', base_model_name_or_path: demo.name, r: 8, lora_alpha: 16, inference_mode: true });

    // The downloaded folder, loaded in Node onto the same base with @peftjs/hub.
    const base = await AutoModelForCausalLM.fromPretrained(demo.dir);
    const loaded = await fromPretrained(base, adapterDir);
    const maxNewTokens = Number(await page.inputValue('#max-new-tokens'));
    const [sequence] = await generate(loaded.model, [generated.promptIds], { maxNewTokens, doSample: false });
    expect(sequence!.slice(generated.promptIds.length)).toEqual(generated.adapted);
    const logits = tf.tidy(() => {
      const ids = tf.tensor2d([generated.promptIds], undefined, 'int32');
      const output = loaded.model.predict([ids, tf.cast(tf.onesLike(ids), 'float32')]) as tf.Tensor;
      const [, seq, vocab] = output.shape as number[];
      return tf.reshape(tf.slice(output, [0, seq! - 1, 0], [1, 1, vocab!]), [-1]);
    });
    const nodeLogits = Array.from(await logits.data());
    logits.dispose();
    loaded.model.dispose();
    expect(nodeLogits).toHaveLength(generated.adaptedLogits.length);
    expect(Math.max(...nodeLogits.map((value, index) => Math.abs(value - generated.adaptedLogits[index]!)))).toBeLessThan(1e-4);
  }, 180_000);

  it('trains IA3 and prompt tuning too, and downloads both files with one button', async () => {
    for (const method of ['ia3', 'prompt-tuning'] as const) {
      const losses = await train(method, 12);
      expect(losses).toHaveLength(12);
      expect(mean(losses.slice(-4))).toBeLessThan(mean(losses.slice(0, 4)));
      expect(await page.getAttribute('#adapter-status', 'data-peft-type')).toBe(method === 'ia3' ? 'IA3' : 'PROMPT_TUNING');
      const generated = await generateInPage();
      expect(generated.adapted.length).toBeGreaterThan(0);
    }
    // Stop: the run ends after the current step and keeps the adapter trained so far.
    await page.fill('#steps', '500');
    await page.click('#train');
    await stepAtLeast(3);
    await page.click('#stop');
    await page.waitForSelector('#train-status[data-state="stopped"]', { timeout: 60_000 });
    await idle();
    const stoppedAt = Number(await page.getAttribute('#loss-plot', 'data-steps'));
    expect(stoppedAt).toBeGreaterThanOrEqual(3);
    expect(stoppedAt).toBeLessThan(500);
    expect(await page.textContent('#train-status')).toContain(`Stopped after ${stoppedAt} steps`);
    expect(await page.getAttribute('#adapter-status', 'data-peft-type')).toBe('PROMPT_TUNING');

    const downloads: string[] = [];
    page.on('download', (download) => downloads.push(download.suggestedFilename()));
    await page.click('#download');
    await expect.poll(() => downloads.length, { timeout: 10_000 }).toBe(2);
    expect(downloads.sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
  }, 120_000);

  it('says what is wrong with bad input and keeps what it had; loads an adapter folder from disk', async () => {
    const before = await generateInPage();
    const dataBefore = await page.inputValue('#data');
    const plotBefore = await page.getAttribute('#loss-plot', 'data-losses');
    const expectUnchanged = async () => {
      expect(await page.getAttribute('#adapter-status', 'data-peft-type')).toBe('PROMPT_TUNING');
      expect(await page.getAttribute('#loss-plot', 'data-losses')).toBe(plotBefore);
    };

    // An empty dataset.
    await page.fill('#data', '   \n');
    await page.click('#train');
    expect(await message()).toMatch(/training data is empty/);
    await expectUnchanged();
    // Not JSON.
    await page.fill('#data', '{"text": "fine"}\n{"text": "broken"');
    await page.click('#train');
    expect(await message()).toMatch(/JSONL line 2 is not JSON/);
    await expectUnchanged();
    await page.fill('#data', dataBefore);

    // A malformed adapter file.
    const weights = await readFile(join(workDir, 'downloaded', 'adapter_model.safetensors'));
    await page.setInputFiles('#adapter-files', [
      { name: 'adapter_config.json', mimeType: 'application/json', buffer: Buffer.from('{"peft_type": "LORA", ') },
      { name: 'adapter_model.safetensors', mimeType: 'application/octet-stream', buffer: weights },
    ]);
    expect(await message()).toMatch(/is not a valid adapter: adapter_config\.json is not valid JSON/);
    await page.setInputFiles('#adapter-files', [
      { name: 'adapter_config.json', mimeType: 'application/json', buffer: await readFile(join(workDir, 'downloaded', 'adapter_config.json')) },
      { name: 'adapter_model.safetensors', mimeType: 'application/octet-stream', buffer: weights.subarray(0, 100) },
    ]);
    expect(await message()).toMatch(/is not a valid adapter/);
    await expectUnchanged();

    // An adapter for another model: Python PEFT's GPT-2 LoRA fixture.
    await page.setInputFiles('#adapter-folder', join(exampleDir, '../../test-fixtures/peft/gpt2-lora/adapter'));
    expect(await message()).toMatch(/does not fit the loaded model \(.+\): target_modules \["c_attn"\] matched no layer/);
    await expectUnchanged();
    const after = await generateInPage();
    expect(after.adapted).toEqual(before.adapted);
    expect(after.adaptedLogits).toEqual(before.adaptedLogits);
    expect(await page.inputValue('#data')).toBe(dataBefore);

    // The LoRA adapter downloaded earlier, as a folder from disk: the outputs it had in the page.
    await page.setInputFiles('#adapter-folder', join(workDir, 'downloaded'));
    expect(await message()).toMatch(/Loaded the LORA adapter/);
    expect(await page.getAttribute('#adapter-status', 'data-state')).toBe('loaded');
    const reloaded = await generateInPage();
    expect(reloaded.promptIds).toEqual(trained!.promptIds);
    expect(reloaded.adapted).toEqual(trained!.ids);
    expect(Math.max(...reloaded.adaptedLogits.map((value, index) => Math.abs(value - trained!.logits[index]!)))).toBeLessThan(1e-5);
  }, 120_000);

  it('trains on WebGL when asked (a software renderer here), with the losses wasm gives', async (context) => {
    const gl = await browser.newPage();
    try {
      await gl.goto(`${url}?backend=webgl&demo`);
      await gl.waitForSelector('#model-status[data-state="loaded"]', { timeout: 60_000 });
      const backend = await gl.getAttribute('#backend', 'data-backend');
      if (backend !== 'webgl') context.skip(`this Chromium has no WebGL (${await gl.textContent('#backend')})`);
      await gl.fill('#steps', '2');
      await gl.click('#train');
      await gl.waitForFunction(() => ['done', 'failed'].includes(document.getElementById('train-status')!.dataset.state!), null, { timeout: 90_000 });
      const losses = JSON.parse((await gl.getAttribute('#loss-plot', 'data-losses'))!) as number[];
      expect(losses).toHaveLength(2);
      // The same seed and data: the first loss is the base model's; the second follows one Adam step.
      expect(Math.abs(losses[0]! - wasmLosses[0]!)).toBeLessThan(1e-3);
      expect(Math.abs(losses[1]! - wasmLosses[1]!)).toBeLessThan(1e-2);
    } finally {
      await gl.close();
    }
  }, 120_000);

  it('loads a model from files dropped on the model section', async () => {
    const dropPage = await browser.newPage();
    try {
      await dropPage.goto(`${url}?backend=wasm`);
      await dropPage.waitForFunction(() => document.getElementById('backend')!.dataset.backend === 'wasm', null, { timeout: 60_000 });
      // The demo's files, dropped as files (not a folder): what a drag from a file manager gives.
      await dropPage.evaluate(async () => {
        const base = new URL('demo-base/', document.baseURI);
        const manifest = (await (await fetch(new URL('manifest.json', base))).json()) as { files: string[] };
        const transfer = new DataTransfer();
        for (const name of manifest.files) transfer.items.add(new File([await (await fetch(new URL(name, base))).blob()], name));
        const section = document.getElementById('model-section')!;
        section.dispatchEvent(new DragEvent('dragover', { dataTransfer: transfer, bubbles: true, cancelable: true }));
        section.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
      });
      await dropPage.waitForSelector('#model-status[data-state="loaded"]', { timeout: 60_000 });
      expect(await dropPage.getAttribute('#model-status', 'data-name')).toBe('my-model');
      expect(await dropPage.getAttribute('#model-status', 'data-storage')).toBe('heap');
    } finally {
      await dropPage.close();
    }
  }, 120_000);

  it('trains LoRA r=16 (q_proj, v_proj) on a picked SmolLM-135M-shaped folder at batch 4 × 128 on wasm, with the step time shown', async () => {
    // The real SmolLM-135M shape with random weights (transformers' init), written here, never committed.
    const shape = SHAPES.find((candidate) => candidate.name === 'smollm-135m')!;
    const folder = join(workDir, 'smollm-135m');
    writeRandomCheckpoint(shape, folder);
    const vocab = shape.config.vocab_size as number;
    const big = await browser.newPage();
    big.on('pageerror', (error) => console.error('page error:', error.message));
    try {
      await big.goto(`${url}?backend=wasm`);
      await big.waitForFunction(() => document.getElementById('backend')!.dataset.backend === 'wasm', null, { timeout: 60_000 });
      await big.selectOption('#weight-storage', 'bfloat16');
      const loadStarted = performance.now();
      await big.setInputFiles('#model-folder', folder);
      await big.waitForSelector('#model-status[data-state="loaded"]', { timeout: 300_000 });
      const loadSeconds = (performance.now() - loadStarted) / 1000;
      expect(await big.getAttribute('#model-status', 'data-storage')).toBe('bfloat16');
      // Every linear and the (tied) embedding in bfloat16 outside the heap: 2 bytes a value.
      const {
        hidden_size: hidden,
        intermediate_size: intermediate,
        num_hidden_layers: layers,
        num_attention_heads: heads,
        num_key_value_heads: kvHeads,
      } = shape.config as Record<string, number>;
      const kv = (hidden! / heads!) * kvHeads!;
      const matrices = hidden! * vocab + layers! * hidden! * (2 * hidden! + 2 * kv + 3 * intermediate!);
      expect(Number(await big.getAttribute('#model-status', 'data-stored-bytes'))).toBe(2 * matrices);
      expect(await big.textContent('#model-status')).toMatch(/no tokenizer: token ids in and out/);

      // Four rows of 128 token ids (the folder has no tokenizer).
      let state = 12345;
      const rows = Array.from({ length: 4 }, () => ({
        input_ids: Array.from({ length: 128 }, () => {
          state = (state * 1103515245 + 12345) % 2 ** 31;
          return state % vocab;
        }),
      }));
      await big.fill('#data', rows.map((row) => JSON.stringify(row)).join('\n'));
      await big.check('input[name="method"][value="lora"]');
      await big.fill('#lora-r', '16');
      await big.fill('#lora-alpha', '32');
      await big.fill('#target-modules', 'q_proj, v_proj');
      await big.fill('#batch-size', '4');
      await big.fill('#max-length', '128');
      await big.fill('#steps', '2');
      await big.fill('#learning-rate', '0.001');
      await big.check('#gradient-checkpointing');
      const trainStarted = performance.now();
      await big.click('#train');
      await big.waitForFunction(() => ['done', 'failed'].includes(document.getElementById('train-status')!.dataset.state!), null, { timeout: 600_000 });
      const trainSeconds = (performance.now() - trainStarted) / 1000;
      const memory = browserMemory(`--peftjs-e2e=${workDir}`);
      expect(await big.getAttribute('#train-status', 'data-state')).toBe('done');
      const losses = JSON.parse((await big.getAttribute('#loss-plot', 'data-losses'))!) as number[];
      expect(losses).toHaveLength(2);
      // Random init (std 0.02) gives near-uniform predictions: a loss near ln(vocab).
      expect(losses.every(Number.isFinite)).toBe(true);
      expect(Math.abs(losses[0]! - Math.log(vocab))).toBeLessThan(0.3);
      const stepSeconds = Number(await big.getAttribute('#train-status', 'data-step-seconds'));
      expect(stepSeconds).toBeGreaterThan(0);
      const heapBytes = Number(await big.getAttribute('#train-status', 'data-heap-bytes'));
      expect(heapBytes).toBeGreaterThan(0);
      expect(heapBytes).toBeLessThanOrEqual(4 * 1024 ** 3);
      const renderer = Math.max(...memory.filter((entry) => entry.type === 'renderer').map((entry) => entry.peak), 0);
      const gib = (bytes: number) => `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
      console.log(
        `SmolLM-135M shape in Chromium on wasm, LoRA r=16 q_proj,v_proj, batch 4 × 128, bfloat16 frozen weights, checkpointing: ` +
          `load ${loadSeconds.toFixed(1)} s, last step ${stepSeconds.toFixed(1)} s, whole run (probe losses + 2 steps) ${trainSeconds.toFixed(1)} s, ` +
          `wasm heap ${gib(heapBytes)}, renderer peak RSS ${gib(renderer)}, all browser processes peak ${gib(memory.reduce((sum, entry) => sum + entry.peak, 0))}; losses ${losses.map((loss) => loss.toFixed(4)).join(', ')}`,
      );
      // The adapter is shown (and its files made) once the run's report is in.
      await big.waitForSelector('#adapter-status[data-peft-type="LORA"]', { timeout: 120_000 });
    } finally {
      await big.close();
    }
  }, 900_000);
});
