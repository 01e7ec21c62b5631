/**
 * The version of each graph the library compiles and caches, by graph name (`new Graph(name)`). The model
 * cache keys an optimised model on its graph's version (with the weights, config, precision and runtime),
 * not on source files: editing anything that does not change a graph (KV-pool bookkeeping, comments, a
 * refactor) keeps users' cached models, and a builder whose emitted ONNX changes gets a new version.
 *
 * test/models/graph-versions.test.ts records each graph's ONNX hash (small random weights, every precision)
 * per version and fails when a builder's output changes without a bump here. To bump: increment the
 * number, then run `UPDATE_GRAPH_HASHES=1 node --import tsx --test test/models/graph-versions.test.ts`.
 */
import { ClapError } from '../errors.js';

export const GRAPH_VERSIONS: Readonly<Record<string, number>> = Object.freeze({
  clap_audio_encoder: 1,
  clap_audio_encoder_waveform: 2,
  clap_text_encoder: 2,
  clap_text_encoder_fixed: 1,
  clap_audio_encoder_cnn14: 1,
  clap_audio_encoder_cnn14_waveform: 2,
  clap_text_encoder_bert: 2,
  hf_clap_audio_encoder: 1,
  hf_clap_text_encoder: 2,
  clapcap_prefix: 1,
  clapcap_decoder: 3,
});

/** The version of graph `name`; a graph that is not listed cannot be cached. */
export function graphVersion(name: string): number {
  if (!Object.hasOwn(GRAPH_VERSIONS, name))
    throw new ClapError(`graph '${name}' has no entry in GRAPH_VERSIONS (src/models/graph-versions.ts)`);
  return GRAPH_VERSIONS[name];
}
