import * as tfl from '@tensorflow/tfjs-layers';
import type { layers } from '@tensorflow/tfjs-layers';
import type { EmbeddingLayerArgs } from '@tensorflow/tfjs-layers/dist/layers/embeddings';
import { frozenWeightFor } from '../frozen/frozen-build-scope';
import { FrozenEmbedding } from '../frozen/frozen-layers';

/** A tfjs Embedding, or, inside buildWithFrozenWeights, one over a stored table. */
export function embedding(args: EmbeddingLayerArgs): layers.Layer {
  const weight = args.name === undefined ? undefined : frozenWeightFor({ name: args.name, kind: 'embedding', units: args.inputDim });
  return weight ? new FrozenEmbedding({ ...args, weight }) : tfl.layers.embedding(args);
}
