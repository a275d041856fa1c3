export { ModelLoadError, type ModelLoadProblem } from './model-load-error';
export { UnsupportedModelTypeError } from './unsupported-model-type-error';
export { TaskTypeMismatchError } from './task-type-mismatch-error';
export { MemoryBudgetError } from './memory-budget-error';
