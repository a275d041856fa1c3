/** The file names Python PEFT writes in an adapter folder. */
export const ADAPTER_CONFIG_NAME = 'adapter_config.json';
export const ADAPTER_WEIGHTS_NAME = 'adapter_model.safetensors';
/** The pickle format PEFT writes with `safe_serialization=False`; peftjs does not read it. */
export const ADAPTER_PICKLE_WEIGHTS_NAME = 'adapter_model.bin';
export const MODEL_CARD_NAME = 'README.md';
/** PEFT's name for the first adapter; it is saved in the folder itself, others in `<folder>/<name>/`. */
export const DEFAULT_ADAPTER_FOLDER_NAME = 'default';
