export { Trainer, type TrainerOptions, type TrainerCallbacks, type TrainResult, type StepLogEntry, type StepDetails, type EvaluationLogEntry } from './trainer';
export {
  DEFAULT_TRAINING_ARGUMENTS,
  LR_SCHEDULER_TYPES,
  OPTIMIZERS,
  resolveTrainingArguments,
  trainingArgumentsFromJson,
  trainingArgumentsToJson,
  type LrSchedulerType,
  type OptimizerName,
  type TrainingArguments,
} from './training-arguments';
export { learningRateAt, learningRateMultiplier, warmupStepsOf } from './learning-rate-schedule';
export { TorchOptimizer, type OptimizerEntry, type OptimizerSettings, type OptimizerState, type Moments } from './optimizer';
export { trainableParameters, type TrainableParameter } from './trainable-parameters';
export { readTrainableState, loadTrainableState, checkTrainableState } from './trainable-state';
export { collate, IGNORE_INDEX, type TrainingExample, type CollatedBatch } from './training-example';
export { causalLmLoss, causalLmBatchLoss, modelInputs, type ComputeLoss } from './causal-lm-loss';
export { DataOrder } from './data-order';
export { createSeededRandom, shuffled, withSeededMathRandom } from './seeded-random';
export { MemoryStorage, joinPath, type CheckpointStorage } from './checkpoint-storage';
export {
  CHECKPOINT_PREFIX,
  OPTIMIZER_STATE_NAME,
  TRAINABLE_STATE_NAME,
  TRAINER_STATE_NAME,
  checkpointFolder,
  listCheckpoints,
  readCheckpoint,
  removeTemporaryCheckpoints,
  resolveCheckpoint,
  writeCheckpoint,
  type CheckpointContents,
  type LoadedCheckpoint,
} from './checkpoint';
export { TrainingArgumentsError, CheckpointError, TrainableStateError } from './errors';
