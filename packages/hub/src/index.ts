export * from './errors/index';
export * from './safetensors/index';
