export { lycorisConfigFields, lycorisPatternKey, lycorisRankAndAlpha, type LycorisConfigBase } from './lycoris-config';
export { LycorisLayer, lycorisConv2dProblem, type LycorisAdapterOptions, type LycorisBaseGeometry } from './lycoris-layer';
export { createLycorisTuner, lycorisAdapterOptions, type LycorisLayerClass, type LycorisMethod, type LycorisSettings } from './lycoris-tuner';
export { kaimingUniform, kron, matMulLastAxis, tuckerRebuild } from './lycoris-math';
