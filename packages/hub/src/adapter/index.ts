export {
  ADAPTER_CONFIG_NAME,
  ADAPTER_WEIGHTS_NAME,
  ADAPTER_PICKLE_WEIGHTS_NAME,
  MODEL_CARD_NAME,
} from './adapter-files';
export { savePretrained, type SavePretrainedOptions, type SavedAdapter } from './save-pretrained';
export { loadAdapter, readAdapterFiles, type LoadAdapterOptions, type AdapterFiles } from './load-adapter';
export { fromPretrained, type FromPretrainedOptions } from './from-pretrained';
export {
  adapterFilesFromPeftModel,
  peftModelFromAdapterFiles,
  parseAdapterConfigFile,
  type AdapterFileContents,
  type AdapterFileSources,
  type AdapterFilesFromPeftModelOptions,
  type PeftModelFromAdapterFilesOptions,
} from './adapter-file-contents';
export { readAdapterConfig } from './read-adapter-config';
export { resolveAdapterFolder, type AdapterLocationOptions } from './resolve-adapter-folder';
export { writeModelCard } from './model-card';
