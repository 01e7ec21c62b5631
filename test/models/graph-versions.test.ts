/**
 * The model cache reuses an optimised model while its graph's version (src/models/graph-versions.ts) is
 * unchanged, so a builder whose output changes must bump it. This test builds every cached graph from
 * small random weights (sizes where each precision rewrites some MatMuls), hashes its ONNX in every
 * precision, and compares with graph-hashes.json, recorded per version: a changed hash at the same version
 * fails. After a bump, `UPDATE_GRAPH_HASHES=1 node --import tsx --test test/models/graph-versions.test.ts`
 * records the new hashes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { emitOnnx, type Graph } from '../../src/engine/index.js';
import { applyPrecision, PRECISION_VARIANTS, precisionKey } from '../../src/engine/quant.js';
import {
  buildAudioEncoderGraph,
  buildTextEncoderGraph,
  CLAP_2022,
  CLAP_2023,
  LAION_CLAP_FUSED,
  type ClapConfig,
  randomClapStateDict,
} from '../../src/models/clap/index.js';
import {
  buildClapCapDecoderGraph,
  buildClapCapPrefixGraph,
  clapCapConfig,
  randomClapCapStateDict,
} from '../../src/models/clapcap/index.js';
import { HTSAT_2023 } from '../../src/models/htsat/index.js';
import { BERT_BASE } from '../../src/models/bert/index.js';
import { CNN14_2022 } from '../../src/models/cnn14/index.js';
import { GRAPH_VERSIONS } from '../../src/models/graph-versions.js';

const RECORD = new URL('./graph-hashes.json', import.meta.url);
const text = { vocabSize: 50257, nPositions: 128, nEmbd: 64, nLayer: 2, nHead: 4, layerNormEpsilon: 1e-5 };
const htsat = { ...HTSAT_2023, patchSize: 8, embedDim: 32, depths: [2, 2, 2], numHeads: [2, 4, 8], numClasses: 16 };
const clap: ClapConfig = { ...CLAP_2023, audio: { type: 'htsat', htsat }, text: { type: 'gpt2', gpt2: text }, dProj: 128 };
const clapWeights = randomClapStateDict(clap);
const bert = {
  ...BERT_BASE,
  vocabSize: 512,
  hiddenSize: 32,
  numHiddenLayers: 2,
  numAttentionHeads: 2,
  intermediateSize: 64,
  maxPositionEmbeddings: 64,
};
const clap2022: ClapConfig = {
  ...CLAP_2022,
  audio: { type: 'cnn14', cnn14: { ...CNN14_2022, channels: [4, 8, 8, 16, 16, 32], outEmb: 16, classesNum: 8 } },
  text: { type: 'bert', bert, positions: 'absolute', pooling: 'cls' },
  dProj: 32,
};
const weights2022 = randomClapStateDict(clap2022);
const laion: ClapConfig = {
  ...LAION_CLAP_FUSED,
  audio: { type: 'clap-audio', clapAudio: { htsat, enableFusion: true, affBlockR: 4 } },
  text: {
    type: 'bert',
    bert: { ...bert, maxPositionEmbeddings: 66, typeVocabSize: 1, padTokenId: 1 },
    positions: 'roberta',
    pooling: 'pooler',
  },
  dProj: 32,
};
const laionWeights = randomClapStateDict(laion);
const capWeights = randomClapCapStateDict({ gpt: text, prefixDim: 128, prefixLength: 4, clipLength: 4, numLayers: 2 });
const capConfig = clapCapConfig(capWeights, { gpt2: { n_head: 4 } });

/** Every graph the library caches, by name. */
const BUILDERS: Record<string, () => Graph> = {
  clap_audio_encoder: () => buildAudioEncoderGraph(clapWeights, clap),
  clap_audio_encoder_waveform: () => buildAudioEncoderGraph(clapWeights, clap, { input: 'waveform' }),
  clap_text_encoder: () => buildTextEncoderGraph(clapWeights, clap),
  clap_text_encoder_fixed: () => buildTextEncoderGraph(clapWeights, clap, { pooling: 'fixed' }),
  clap_audio_encoder_cnn14: () => buildAudioEncoderGraph(weights2022, clap2022),
  clap_audio_encoder_cnn14_waveform: () => buildAudioEncoderGraph(weights2022, clap2022, { input: 'waveform' }),
  clap_text_encoder_bert: () => buildTextEncoderGraph(weights2022, clap2022),
  hf_clap_audio_encoder: () => buildAudioEncoderGraph(laionWeights, laion),
  hf_clap_text_encoder: () => buildTextEncoderGraph(laionWeights, laion),
  clapcap_prefix: () => buildClapCapPrefixGraph(capWeights, capConfig),
  clapcap_decoder: () => buildClapCapDecoderGraph(capWeights, capConfig),
};

interface Recorded {
  version: number;
  /** precision (precisionKey) → sha256 of the emitted ONNX */
  onnx: Record<string, string>;
}

function hashes(name: string): Record<string, string> {
  return Object.fromEntries(
    PRECISION_VARIANTS.map(({ precision, int8Weights }) => {
      const g = BUILDERS[name]();
      assert.equal(g.name, name, 'the builder makes the graph it is listed under');
      applyPrecision(g, precision, { int8Weights });
      return [precisionKey(precision, int8Weights), createHash('sha256').update(emitOnnx(g)).digest('hex')];
    }),
  );
}

test('every cached graph has a version, and every version a graph', () => {
  assert.deepEqual(Object.keys(BUILDERS).sort(), Object.keys(GRAPH_VERSIONS).sort());
});

test("each graph's ONNX is the one recorded for its version (bump GRAPH_VERSIONS when a builder's output changes)", () => {
  const now = Object.fromEntries(Object.keys(BUILDERS).map((name) => [name, { version: GRAPH_VERSIONS[name], onnx: hashes(name) }]));
  if (process.env.UPDATE_GRAPH_HASHES) {
    writeFileSync(RECORD, `${JSON.stringify(now, null, 2)}\n`);
    return;
  }
  const recorded = JSON.parse(readFileSync(RECORD, 'utf8')) as Record<string, Recorded>;
  const rerun = 'then record the hashes: UPDATE_GRAPH_HASHES=1 node --import tsx --test test/models/graph-versions.test.ts';
  for (const [name, { version, onnx }] of Object.entries(now)) {
    const rec = recorded[name];
    assert.ok(rec, `${name} is not recorded: ${rerun}`);
    for (const p of Object.keys(onnx)) {
      assert.ok(rec.onnx[p], `${name} (${p}) is not recorded: ${rerun}`);
      if (onnx[p] === rec.onnx[p]) continue;
      assert.notEqual(
        version,
        rec.version,
        `${name} (${p}) emits different ONNX than recorded at version ${version}: bump GRAPH_VERSIONS.${name} in src/models/graph-versions.ts ` +
          `(otherwise users' cached models of the old graph are reused), ${rerun}`,
      );
    }
    assert.equal(
      version,
      rec.version,
      `GRAPH_VERSIONS.${name} is ${version} but the hashes recorded are for version ${rec.version}: ${rerun}`,
    );
  }
});
