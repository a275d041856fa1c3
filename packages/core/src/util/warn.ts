import { globalRegistry } from './global-registry';

export type WarningHandler = (message: string) => void;

const state = globalRegistry('warnings', () => ({ handler: ((message: string) => console.warn(`[peftjs] ${message}`)) as WarningHandler }));

/** Emits a user-facing warning through the current handler (console.warn by default). */
export function warn(message: string): void {
  state.handler(message);
}

/** Replaces the warning handler; returns the previous one so callers can restore it. */
export function setWarningHandler(handler: WarningHandler): WarningHandler {
  const previous = state.handler;
  state.handler = handler;
  return previous;
}
