import { globalRegistry } from '../util/global-registry';

/** Per-call options tuner layers read during one forward pass (tfjs does not pass kwargs down a graph). */
export interface ForwardContext {
  /** One adapter name per batch row (`"__base__"` for none): a mixed-adapter batch. */
  adapterNames?: readonly string[];
  /** One task id per batch row, for methods with per-task weights. */
  taskIds?: readonly number[];
}

const stack = globalRegistry('forwardContext', () => [] as ForwardContext[]);

/** Runs a synchronous forward pass with a context that tuner layers can read. */
export function withForwardContext<T>(context: ForwardContext, run: () => T): T {
  stack.push(context);
  try {
    return run();
  } finally {
    stack.pop();
  }
}

export function currentForwardContext(): ForwardContext | undefined {
  return stack[stack.length - 1];
}

export const BASE_ADAPTER_NAME = '__base__';
