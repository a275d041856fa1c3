import { globalRegistry } from '../util/global-registry';

const linearClasses = globalRegistry('linearLayerClasses', () => new Set<string>(['Dense']));

/** Marks a layer class as linear (torch Linear or HF Conv1D), so 'all-linear' selects it. */
export function registerLinearLayerClass(className: string): void {
  linearClasses.add(className);
}

export function isLinearLayerClass(className: string): boolean {
  return linearClasses.has(className);
}
