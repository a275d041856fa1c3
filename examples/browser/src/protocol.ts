import type { AdapterFileContents } from '@peftjs/hub';
import type { BackendReport, BackendPreference } from './backend';
import type { WeightStorage } from './model-files';
import type { AdapterSummary, GenerateReport, ModelSummary, StepReport, TrainReport, TrainSettings } from './session';

/** What the page asks the worker; each request gets one Reply with the same id. */
export type Request =
  | { id: number; type: 'init'; backend: BackendPreference; wasmPath: string }
  | { id: number; type: 'load-model'; files: Record<string, Blob>; name: string; storage: WeightStorage }
  | { id: number; type: 'train'; data: string; settings: TrainSettings }
  | { id: number; type: 'generate'; prompt: string; maxNewTokens: number }
  | { id: number; type: 'adapter-files' }
  | { id: number; type: 'load-adapter'; files: Record<string, Blob>; label: string };

/** The result each request type resolves to. */
export interface Results {
  init: BackendReport;
  'load-model': ModelSummary;
  train: TrainReport;
  generate: GenerateReport;
  'adapter-files': AdapterFileContents;
  'load-adapter': AdapterSummary;
}

/** Sent outside the request/reply pairs: stop training (answered by the train reply). */
export interface StopMessage {
  type: 'stop';
}

export type Reply =
  | { id: number; type: 'result'; result: unknown }
  /** `user`: a problem with the input, shown as is; otherwise an unexpected failure. */
  | { id: number; type: 'error'; message: string; user: boolean };

/** Progress the worker sends while training. */
export interface StepEvent {
  type: 'step';
  report: StepReport;
}

export type WorkerMessage = Reply | StepEvent;
