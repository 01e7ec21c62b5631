// Zero-shot tagging and text search with clap-ts.
// Usage: node --import tsx examples/quickstart.ts CLAP_weights_2023.pth dog.wav rain.flac
import { Clap } from 'clap-ts';

const [weights, ...files] = process.argv.slice(2);
const clap = await Clap.load({ weights });

// Zero-shot classification: softmax over the labels (msclap's 'this is the sound of ' prompt by default).
const results = await clap.classify(files, ['dog barking', 'rain', 'speech', 'siren']);
for (const { input, scores } of results) {
  const [best, p] = Object.entries(scores).sort((a, b) => b[1] - a[1])[0];
  console.log(`${input}: ${best} (${p.toFixed(2)})`);
}

// Embeddings and similarity: rank the files for a free-text query.
const audio = await clap.embedAudio(files);
const [query] = await clap.embedText(['a dog barking in the distance']);
const scores = clap
  .similarity(
    audio.map((a) => a.embedding),
    [query],
  )
  .map((row) => row[0]);
console.log(files.map((f, i) => ({ file: f, score: scores[i] })).sort((a, b) => b.score - a.score));

await clap.release();
