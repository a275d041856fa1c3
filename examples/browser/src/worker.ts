// The Web Worker: owns the tfjs backend and the models, so training never blocks the page.
import '@tensorflow/tfjs-layers';
import { pickBackend } from './backend';
import type { Reply, Request, Results, StepEvent, StopMessage } from './protocol';
import { Session } from './session';
import { UserError } from './user-error';

const scope = self as unknown as { postMessage(message: unknown, transfer?: Transferable[]): void; onmessage: ((event: MessageEvent) => void) | null };
let session: Session | undefined;
let stopRequested = false;
/** Requests run one at a time, in order. */
let queue: Promise<void> = Promise.resolve();

function post(message: Reply | StepEvent, transfer: Transferable[] = []): void {
  scope.postMessage(message, transfer);
}

async function handle(request: Request): Promise<Results[Request['type']]> {
  if (request.type === 'init') {
    const report = await pickBackend(request.backend, request.wasmPath);
    session = new Session();
    return report;
  }
  if (!session) throw new Error('the worker is not initialised');
  switch (request.type) {
    case 'load-model':
      return session.loadModel(request.files, request.name, { storage: request.storage });
    case 'train':
      stopRequested = false;
      return session.train(request.data, request.settings, {
        onStep: (report) => post({ type: 'step', report }),
        shouldStop: () => stopRequested,
        // Lets a 'stop' message in between steps.
        yieldEveryStep: () => new Promise((resolve) => setTimeout(resolve, 0)),
      });
    case 'generate':
      return session.generate(request.prompt, request.maxNewTokens);
    case 'adapter-files':
      return session.adapterFiles();
    case 'load-adapter':
      return session.loadAdapter(request.files, request.label);
  }
}

scope.onmessage = (event: MessageEvent<Request | StopMessage>) => {
  const message = event.data;
  if (message.type === 'stop') {
    stopRequested = true;
    return;
  }
  queue = queue.then(async () => {
    try {
      const result = await handle(message);
      post({ id: message.id, type: 'result', result });
    } catch (error) {
      const user = error instanceof UserError;
      post({ id: message.id, type: 'error', message: error instanceof Error ? error.message : String(error), user });
      if (!user) console.error(error);
    }
  });
};
