import { disableLeanBackprop, enableLeanBackprop, isLeanBackpropEnabled } from '../gradients/lean-backprop';
import type { WasmFixUnit } from './wasm-fix-unit';
import { WasmFix } from './wasm-fix-names';

/**
 * Registered with the wasm fixes (the engine is global, so every backend gets it): the backward
 * pass frees each tape entry once consumed. `unregister` puts tfjs-core's `gradients` back.
 */
export const leanBackpropFix: WasmFixUnit = {
  name: WasmFix.leanBackprop,
  apply() {
    enableLeanBackprop();
    return () => disableLeanBackprop();
  },
  isActive: isLeanBackpropEnabled,
};
