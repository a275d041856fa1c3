export * from './errors';
export { loadConfig, loadGenerationConfig, generationDefaultsFrom, CONFIG_NAME, GENERATION_CONFIG_NAME, type GenerationDefaults } from './config/load-config';
export { parsePretrainedConfig, type PretrainedConfig } from './config/pretrained-config';

export { GPT2Conv1D } from './layers/gpt2-conv1d';
export { LlamaRMSNorm } from './layers/rms-norm';
export { RotaryEmbedding, ropeInverseFrequencies, type RopeScaling } from './layers/rotary-embedding';
export { AttentionMaskBias } from './layers/attention-mask';
export { ScaledDotProductAttention } from './layers/scaled-dot-product-attention';
// The layer contracts live in core's spec; re-exported here for code that imported them from models.
export { isKeyValueCacheLayer, isPositionIdsLayer, isInputsEmbedsLayer, type KeyValueCacheLayer } from '@peftjs/core';
export { HFActivation, GatedActivation, applyActivation, ACTIVATIONS, type ActivationName } from './layers/activations';
export { TiedLMHead, type HeadProjection } from './layers/tied-lm-head';
export { PositionIds, SelectToken } from './layers/position-ids';
export { OPTPositionIds } from './layers/opt-position-ids';
export { T5LayerNorm, T5RelativePositionBias, AttentionBiasSum, CrossAttention, ConstantScale, InputsEmbeds, relativePositionBucket } from './layers/t5-layers';

export { buildGPT2, gpt2Config, type GPT2Config } from './architectures/gpt2';
export { buildLlama, llamaConfig, type LlamaConfig } from './architectures/llama';
export { buildBert, bertConfig, type BertConfig, type BertHead, type ProblemType } from './architectures/bert';
export { buildOPT, optConfig, OPT_POSITION_OFFSET, type OPTConfig } from './architectures/opt';
export { buildBloom, bloomConfig, alibiSlopes, type BloomConfig } from './architectures/bloom';
export { buildT5, t5Config, type T5Config, type T5Head } from './architectures/t5';
export type { BuildOptions } from './architectures/build-options';
export type { WeightInit } from './architectures/init';
export { INPUT_IDS, ATTENTION_MASK, TOKEN_TYPE_IDS, POSITION_IDS, DECODER_INPUT_IDS, DECODER_ATTENTION_MASK, isEncoderDecoder } from './architectures/inputs';
export {
  registerModelType,
  getModelType,
  listModelTypes,
  MODEL_TASKS,
  type ModelTask,
  type ModelTypeDefinition,
  type ModelTaskDefinition,
} from './architectures/model-types';
export {
  registerBuiltinModelTypes,
  BUILTIN_MODEL_TYPES,
  GPT2_ARCHITECTURE,
  BERT_ARCHITECTURE,
  OPT_ARCHITECTURE,
  BLOOM_ARCHITECTURE,
  T5_ARCHITECTURE,
  MT5_ARCHITECTURE,
  GPT2_MODEL_TYPE,
  LLAMA_MODEL_TYPE,
  MISTRAL_MODEL_TYPE,
  QWEN2_MODEL_TYPE,
  BERT_MODEL_TYPE,
  OPT_MODEL_TYPE,
  BLOOM_MODEL_TYPE,
  T5_MODEL_TYPE,
  MT5_MODEL_TYPE,
} from './architectures/builtin-model-types';

export { openWeights, weightsFromTensors, WEIGHTS_NAME, type WeightSource } from './weights/weight-source';
export { loadWeights, type LoadWeightsOptions, type LoadWeightsReport } from './weights/load-weights';

export { loadPretrained, modelFromConfig, getGenerationDefaults, type FromPretrainedOptions } from './auto/load-pretrained';
export {
  AutoPeftModel,
  AutoPeftModelForCausalLM,
  AutoPeftModelForSeq2SeqLM,
  AutoPeftModelForSequenceClassification,
  AutoPeftModelForTokenClassification,
  resolveBaseModel,
  PEFT_TASK_TYPE_TO_MODEL_TASK,
  type AutoPeftModelClass,
  type AutoPeftModelOptions,
  type ResolvedBaseModel,
} from './auto/auto-peft-model';
export { resolveModelFolder, setModelResolver, MODEL_FILE_PATTERNS, type ModelResolver, type ResolveModelOptions } from './auto/resolve-model-folder';
export {
  AutoModel,
  AutoModelForCausalLM,
  AutoModelForSeq2SeqLM,
  AutoModelForSequenceClassification,
  AutoModelForTokenClassification,
  GPT2Model,
  GPT2LMHeadModel,
  LlamaModel,
  LlamaForCausalLM,
  MistralForCausalLM,
  Qwen2ForCausalLM,
  OPTModel,
  OPTForCausalLM,
  BloomModel,
  BloomForCausalLM,
  T5Model,
  T5ForConditionalGeneration,
  MT5Model,
  MT5ForConditionalGeneration,
  BertModel,
  BertForSequenceClassification,
  BertForTokenClassification,
  type AutoModelClass,
  type PretrainedModelClass,
} from './auto/pretrained-classes';

export { causalLmLoss, seq2seqLmLoss, shiftTokensRight, tokenClassificationLoss, sequenceClassificationLoss, createSequenceClassificationLoss, IGNORE_INDEX } from './loss/losses';
export { kvCacheModel, type KvCacheModel, type KeyValueLayout } from './generation/kv-cache-model';
export { seq2seqCacheModel, type Seq2SeqCacheModel } from './generation/seq2seq-cache-model';
export { generate, type GenerateOptions } from './generation/generate';
export { createRandom, sampleToken, type SamplingOptions } from './generation/sampling';
export { saveModel, modelStateDict, type SaveModelOptions } from './weights/save-model';
export { compileForLabels } from './loss/compile-for-labels';
export { chunkedCrossEntropy, lossChunkRows, type ChunkedCrossEntropyOptions } from './loss/chunked-cross-entropy';
export { weightProjection, layerProjection, type LmHeadProjection } from './loss/lm-head-projection';
export { causalLmTrainingLoss, type CausalLmTrainingLossOptions } from './training/causal-lm-training-loss';
export { runModelGraph, decoderLayerOf, type RunModelGraphOptions } from './training/run-model-graph';
export { checkpointed } from './training/checkpoint';
export { setGradientCheckpointing, isGradientCheckpointingEnabled } from './training/gradient-checkpointing';
export {
  PretrainedTokenizer,
  AutoTokenizer,
  loadTokenizer,
  TOKENIZER_NAME,
  TOKENIZER_CONFIG_NAME,
  SPECIAL_TOKENS_MAP_NAME,
  type EncodeOptions,
  type BatchEncodeOptions,
  type Encoding,
  type BatchEncoding,
  type DecodeOptions,
} from './tokenizer/pretrained-tokenizer';
export { generateText } from './tokenizer/generate-text';

export { FrozenLinear, FrozenGPT2Conv1D, FrozenEmbedding, storedWeightOf, type FrozenLinearArgs } from './frozen/frozen-layers';
export { FrozenWeightVariable } from './frozen/frozen-weight-variable';
export { NativeFrozenWeight, ArrayFrozenWeight, frozenWeightTensor, type FrozenWeight } from './frozen/frozen-weight';
export { frozenMatMul, frozenGather, STORE_MAT_MUL_KERNEL, STORE_GATHER_KERNEL } from './frozen/frozen-ops';
export { rmsNormOp } from './layers/fused/rms-norm-op';
export { layerNormOp } from './layers/fused/layer-norm-op';
export { swigluOp, geluTanhOp } from './layers/fused/gated-activation-op';
export { rotaryOp } from './layers/fused/rotary-op';
export { attentionOp } from './layers/fused/attention-op';
export { NativeFusedKernel, type NativeFusedKernelName } from './layers/fused/native-fused-kernels';
export { buildWithFrozenWeights, type FrozenWeightProvider, type FrozenWeightRequest } from './frozen/frozen-build-scope';
export { openFrozenCheckpoint, type FrozenCheckpoint } from './frozen/frozen-checkpoint';
export {
  FROZEN_DTYPES,
  QUANTIZATIONS,
  parseFrozenStorage,
  bytesPerValue,
  storageName,
  type FrozenDtype,
  type Quantization,
  type FrozenStorage,
  type StorageName,
} from './frozen/frozen-storage';
export {
  NF4_CODE,
  FP4_CODE,
  BLOCK_SIZE,
  NESTED_BLOCK_SIZE,
  dynamicMap,
  quantizeMatrix,
  dequantizeRows,
  floatToBfloat16,
  bfloat16ToFloat,
  floatToFloat16,
  float16ToFloat,
  type QuantizedMatrix,
} from './frozen/quantize';
export { loadNativeStore, nativeStore, nativeStoreUnavailableReason, type NativeStoreAddon } from './frozen/native-store';
export { estimateLoadMemory, assertFits, availableMemory, formatBytes, WASM_HEAP_LIMIT, type MemoryEstimate } from './frozen/memory-estimate';
export { estimateTrainingMemory, isWasmOutOfMemory, type TrainingMemoryOptions } from './frozen/training-memory';
export {
  tokenizeRows,
  rowKind,
  type DataRow,
  type TrainingExample,
  type RowTokenizer,
  type RowKind,
  type TokenizeRowsOptions,
} from './data/training-examples';
