import type { Restore } from './kernel-override';
import type { WasmFixName } from './wasm-fix-names';

/** One registration unit: a kernel or gradient that runtime registers for the wasm backend. */
export interface WasmFixUnit {
  readonly name: WasmFixName;
  /** The wasm kernel it overrides, when it stacks over one (units over the same kernel keep their order). */
  readonly kernelName?: string;
  /** Registers the fix. Returns how to undo it, or `null` when the fix is not needed (nothing registered). */
  apply(): Restore | null;
  /** Whether the registration is still in place (another module may overwrite a global registration). */
  isActive(): boolean;
}
