export { TrainingArgumentsError } from './training-arguments-error';
export { CheckpointError } from './checkpoint-error';
export { TrainableStateError } from './trainable-state-error';
