export * from './errors/index';
export * from './safetensors/index';
export * from './hub/index';
export * from './adapter/index';
