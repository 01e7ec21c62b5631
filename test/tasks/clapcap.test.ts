/** ClapCap, the captioning model kind: msclap's captions from files through the library API, and its errors. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClapCap } from '../../src/tasks/clapcap.js';
import { isInputError } from '../../src/tasks/clap.js';
import { fixturePath } from '../helpers/fixtures.js';

const beams = JSON.parse(readFileSync(fixturePath('expected', 'caption', 'beams.json'), 'utf8')) as {
  entry_length: number;
  results: { audio: string; caption: string; ranked_token_ids: number[][] }[];
};
const files = beams.results.map((r) => fixturePath('inputs', 'audio', `${r.audio}.wav`));
const tmp = mkdtempSync(join(tmpdir(), 'clap-clapcap-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('ClapCap.load + caption reproduce msclap generate_caption; a bad file is an entry in place with errors: return', async () => {
  const model = await ClapCap.load({
    weights: fixturePath('clapcap.pth'),
    config: fixturePath('config.json'),
    threads: 1,
    cacheDir: false,
  });
  try {
    const options = { channels: 'reference', entryLength: beams.entry_length } as const;
    const out = await model.caption(files, options);
    beams.results.forEach((want, i) => {
      assert.equal(out[i].input, files[i]);
      assert.equal(out[i].caption, want.caption);
      assert.deepEqual(out[i].tokens, want.ranked_token_ids[0]);
    });
    const bad = join(tmp, 'broken.wav');
    writeFileSync(bad, Buffer.from('RIFF\x10\x00\x00\x00WAVEfmt garbage'));
    await assert.rejects(model.caption([files[0], bad], options), (e: Error) => e.message.startsWith(`${bad}: `));
    const mixed = await model.caption([bad, files[0]], { ...options, errors: 'return' });
    assert.equal(mixed.length, 2);
    assert.ok(isInputError(mixed[0]));
    assert.equal(mixed[0].input, bad);
    assert.ok(!mixed[0].error.startsWith(bad), 'the reason, without the path');
    assert.ok(!isInputError(mixed[1]));
    assert.equal(mixed[1].caption, beams.results[0].caption);
  } finally {
    await model.release();
  }
});

test('ClapCap.load refuses CLAP weights (no caption decoder), naming the file', async () => {
  await assert.rejects(
    ClapCap.load({ weights: fixturePath('clap.pth'), config: fixturePath('config.json'), cacheDir: false }),
    /clap\.pth: captioning needs clapcap weights/,
  );
});
