/**
 * The library API on every family's weights as users have them: msclap 2022's .pth with its tokenizer
 * folder beside it, and Hugging Face model folders (model.safetensors or pytorch_model.bin). Embeddings
 * match the fixtures' (≤ 1e-4 × max); the family is detected from the files; wrong files are one-line errors.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Clap } from '../../src/tasks/clap.js';
import { ClapError } from '../../src/errors.js';
import { loadWeights, savePth } from '../../src/weights/index.js';
import { assertRelClose } from '../helpers/compare.js';
import { hfclapPath, msclap2022Path } from '../helpers/fixtures.js';
import { readNpy } from '../helpers/npy.js';

const f32 = (path: string): Float32Array => readNpy(path).data as Float32Array;
const flat = (rows: Float32Array[]): Float32Array => {
  const out = new Float32Array(rows.length * rows[0].length);
  rows.forEach((r, i) => out.set(r, i * r.length));
  return out;
};
const opened: Clap[] = [];
async function load(options: Parameters<typeof Clap.load>[0]): Promise<Clap> {
  const c = await Clap.load({ cacheDir: false, threads: 2, ...options });
  opened.push(c);
  return c;
}
after(async () => {
  for (const c of opened) await c.release();
});

describe('msclap 2022 (CLAP_weights_2022.pth layout, bert-base-uncased/ beside it)', () => {
  const manifest = JSON.parse(readFileSync(msclap2022Path('manifest.json'), 'utf8')) as {
    texts: { text: string }[];
    audio: { name: string; file: string; crop_offset?: number }[];
  };

  test('detected as msclap 2022; texts and clips embed as msclap does', async (t) => {
    const clap = await load({ weights: msclap2022Path('clap.pth') });
    assert.equal(clap.family, 'msclap-2022');
    assert.equal(clap.description, 'msclap 2022 (Cnn14 + BERT)');
    const text = await clap.embedText(manifest.texts.map((x) => x.text));
    assertRelClose(t, 'text embeddings', flat(text), f32(msclap2022Path('expected', 'text', 'text_embed.npy')));
    // The reference's STFT noise in near-silent bins shows through Cnn14's bn0 for the chirp: its own test (models/cnn14).
    const clips = manifest.audio.filter((a) => a.name !== 'chirp_exact5s_44k_f32');
    const audio = await clap.embedAudio(
      clips.map((a) => msclap2022Path(a.file)),
      { channels: 'reference', workers: 0 },
    );
    for (const [i, a] of clips.entries()) {
      if (a.crop_offset !== undefined) continue; // crops below
      assertRelClose(t, `${a.name} audio`, audio[i].embedding, f32(msclap2022Path('expected', 'audio', a.name, 'audio_embed.npy')));
    }
    for (const a of clips.filter((x) => x.crop_offset !== undefined)) {
      const [e] = await clap.embedAudio([msclap2022Path(a.file)], { channels: 'reference', cropOffset: a.crop_offset, workers: 0 });
      assertRelClose(
        t,
        `${a.name} audio (crop ${a.crop_offset})`,
        e.embedding,
        f32(msclap2022Path('expected', 'audio', a.name, 'audio_embed.npy')),
      );
    }
  });

  test('--family checks what the weights are; a BERT model without its tokenizer says what to pass', async () => {
    await assert.rejects(
      load({ weights: msclap2022Path('clap.pth'), family: 'hf-clap' }),
      /holds msclap 2022 \(Cnn14 \+ BERT\) weights, not hf-clap/,
    );
    const config = msclap2022Path('config.json'); // the tiny BERT's head count (real BERT widths follow the 64-wide-heads rule)
    const clap = await load({ weights: await loadWeights(msclap2022Path('clap.pth')), config });
    await assert.rejects(
      clap.embedText(['a dog']),
      (e: Error) => e instanceof ClapError && /needs its tokenizer: pass --tokenizer PATH/.test(e.message),
    );
    const withTok = await load({
      weights: await loadWeights(msclap2022Path('clap.pth')),
      config,
      tokenizer: msclap2022Path('bert-base-uncased', 'vocab.txt'),
    });
    assert.equal((await withTok.embedText(['a dog']))[0].length, 64);
  });
});

for (const v of ['unfused', 'fused'] as const) {
  describe(`Hugging Face CLAP, ${v} model folder`, () => {
    const manifest = JSON.parse(readFileSync(hfclapPath('manifest.json'), 'utf8')) as {
      audio: { name: string; file: string }[];
      variants: Record<string, { audio: { name: string; np_random_seed: number }[] }>;
    };
    const inputs = JSON.parse(readFileSync(hfclapPath('inputs', 'texts.json'), 'utf8')) as { texts: string[] };

    test('the folder loads as Hugging Face CLAP; texts embed as ClapModel does; each clip replayed with its numpy seed', async (t) => {
      const clap = await load({ weights: hfclapPath(`model-${v}`) });
      assert.equal(clap.family, 'hf-clap');
      assert.equal(clap.description, `Hugging Face CLAP (HTSAT + RoBERTa, ${v})`);
      const text = await clap.embedText(inputs.texts);
      assertRelClose(t, 'text embeddings', flat(text), f32(hfclapPath('expected', v, 'text', 'text_projection.npy')));
      for (const a of manifest.variants[v].audio) {
        const file = manifest.audio.find((x) => x.name === a.name)!.file;
        const [e] = await clap.embedAudio([hfclapPath(file)], { crop: 'random', seed: a.np_random_seed, workers: 0 });
        assertRelClose(t, `${a.name} audio`, e.embedding, f32(hfclapPath('expected', v, 'audio', a.name, 'audio_projection.npy')));
      }
    });
  });
}

test('Hugging Face weights as pytorch_model.bin beside config.json load the same model', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hfclap-'));
  try {
    for (const f of [
      'config.json',
      'preprocessor_config.json',
      'vocab.json',
      'merges.txt',
      'tokenizer_config.json',
      'special_tokens_map.json',
    ]) {
      copyFileSync(hfclapPath('model-unfused', f), join(dir, f));
    }
    await savePth(join(dir, 'pytorch_model.bin'), await loadWeights(hfclapPath('model-unfused', 'model.safetensors')));
    const bin = await load({ weights: join(dir, 'pytorch_model.bin') });
    const folder = await load({ weights: hfclapPath('model-unfused', 'model.safetensors') });
    assert.equal(bin.family, 'hf-clap');
    const [a] = await bin.embedText(['a dog barks']);
    const [b] = await folder.embedText(['a dog barks']);
    assert.deepEqual(Array.from(a), Array.from(b));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a folder that is not a model folder is a one-line error naming it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'notclap-'));
  try {
    await assert.rejects(
      load({ weights: dir }),
      (e: Error) => e instanceof ClapError && e.message.startsWith(dir) && /not a Hugging Face CLAP model folder/.test(e.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
