import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostTensor } from '../../src/engine/tensor.js';
import { encodePth, loadPth, loadPthCheckpoint, readPth, savePth } from '../../src/weights/pth.js';
import { PickleWriter } from '../../src/weights/pickle-writer.js';
import { buildZip, readZip } from '../../src/weights/zip.js';
import { fixturePath } from '../helpers/fixtures.js';
import { assertSameTensor, rawBytes, rejectsClap, sampleTensors, tempDir, throwsClap } from './helpers.js';

const dir = tempDir();

test('clap.pth fixture: all 165 tensors, shapes, dtypes and values', async () => {
  const file = fixturePath('clap.pth');
  const { tensors: sd, metadata, format } = await loadPthCheckpoint(file);
  assert.equal(format, 'pth');
  assert.equal(sd.size, 165);
  const buf = [...sd.values()][0].data.buffer;
  const scale = sd.get('logit_scale')!;
  assert.deepEqual([scale.dtype, scale.shape], ['float32', []]);
  assert.equal(scale.data[0], 2.927206516265869);
  const melW = sd.get('audio_encoder.base.htsat.logmel_extractor.melW')!;
  assert.deepEqual([melW.dtype, melW.shape], ['float32', [1024 / 2 + 1, 64]]); // stored transposed (stride [1, 513]): a copy
  assert.notEqual(melW.data.buffer, buf);
  const mel = melW.data as Float32Array;
  assert.ok(
    mel.every((v) => v >= 0),
    'mel filterbank weights are non-negative',
  );
  for (let j = 0; j < 64; j++) {
    let col = 0;
    for (let i = 0; i < 513; i++) col += mel[i * 64 + j];
    assert.ok(col > 0, `mel filter ${j} is not empty`);
  }
  const convReal = sd.get('audio_encoder.base.htsat.spectrogram_extractor.stft.conv_real.weight')!;
  assert.deepEqual(convReal.shape, [513, 1, 1024]);
  // conv_real[k, 0, n] = cos(2πkn/N)·hann(n): row 0 is the window itself, symmetric about n = 512.
  const cr = convReal.data as Float32Array;
  assert.ok(Math.abs(cr[512] - 1) < 1e-6 && Math.abs(cr[256] - 0.5) < 1e-6, 'row 0 is the periodic Hann window');
  assert.ok(Math.abs(cr[1024 + 512] + 1) < 1e-6, 'row 1 at n = N/2 is cos(π)·1');
  const bn0 = sd.get('audio_encoder.base.htsat.bn0.weight')!;
  assert.equal(bn0.data.buffer, buf, 'contiguous tensors are views into the file buffer');
  assert.deepEqual([...(bn0.data as Float32Array).subarray(0, 3)], [1.0964665412902832, 1.0144330263137817, 1.0176719427108765]);
  const nbt = sd.get('audio_encoder.base.htsat.bn0.num_batches_tracked')!;
  assert.deepEqual([nbt.dtype, nbt.shape], ['int64', []]);
  const rpiNames = [...sd.keys()].filter((k) => k.endsWith('attn.relative_position_index'));
  assert.equal(rpiNames.length, 7);
  for (const k of rpiNames) {
    const t = sd.get(k)!;
    assert.deepEqual([t.dtype, t.shape], ['int64', [64, 64]]);
    const v = t.data as BigInt64Array;
    assert.ok(
      v.every((x) => x >= 0n && x <= 224n),
      `${k} within (2·8-1)² table entries`,
    );
    assert.equal(v[0], 112n);
    for (let i = 0; i < 64; i++) assert.equal(v[i * 64 + i], 112n, 'diagonal is the zero offset');
  }
  const wte = sd.get('caption_encoder.base.wte.weight')!;
  assert.deepEqual([wte.dtype, wte.shape], ['float32', [50257, 32]]);
  assert.deepEqual(
    [...(wte.data as Float32Array).subarray(220 * 32, 220 * 32 + 3)],
    [0.014336220920085907, -0.0007368507795035839, -0.005621368996798992],
  );
  let sum = 0;
  for (const x of wte.data as Float32Array) sum += x;
  assert.ok(Math.abs(sum - -2.0887604355734766) < 1e-9);
  for (const [k, t] of sd) assert.ok(t.data.length === t.shape.reduce((a, b) => a * b, 1), `${k} element count`);
  // Non-tensor metadata: the state dict's module versions.
  assert.ok(typeof metadata._metadata === 'object' && metadata._metadata !== null);
  assert.deepEqual((metadata._metadata as Record<string, unknown>)['caption_encoder.base'], { version: 1 });
});

test('clapcap.pth fixture: all 188 tensors, lm_head tied to wte', async () => {
  const sd = await loadPth(fixturePath('clapcap.pth'));
  assert.equal(sd.size, 188);
  const wte = sd.get('gpt.transformer.wte.weight')!;
  const head = sd.get('gpt.lm_head.weight')!;
  assert.deepEqual(head.shape, [50257, 32]);
  assert.ok(rawBytes(head).equals(rawBytes(wte)));
  assert.equal(head.data.byteOffset, wte.data.byteOffset, 'one shared storage, no copy');
  assert.deepEqual([...(wte.data as Float32Array).subarray(0, 2)], [0.01393913198262453, -0.03996511548757553]);
  assert.ok(Math.abs((wte.data as Float32Array)[220 * 32] - -0.1535707414150238) < 1e-12);
  assert.ok([...sd.keys()].some((k) => k.startsWith('clap_project.')));
  const melW = sd.get('clap.base.htsat.logmel_extractor.melW')!;
  assert.deepEqual(melW.shape, [513, 64]);
});

test('savePth → loadPth is bit-exact for every dtype (wrapped and flat)', async () => {
  const sd = sampleTensors();
  for (const wrap of ['model', null, 'state_dict'] as const) {
    const file = join(dir, `rt-${wrap}.pth`);
    await savePth(file, sd, { wrap, ...(wrap ? { extra: { epoch: 3, note: 'hi', best: 0.5, flag: true, none: null } } : {}) });
    const got = await loadPthCheckpoint(file);
    assert.deepEqual([...got.tensors.keys()], [...sd.keys()]);
    for (const [k, t] of sd) assertSameTensor(got.tensors.get(k), t, k);
    if (wrap) assert.deepEqual(got.metadata, { epoch: 3, note: 'hi', best: 0.5, flag: true, none: null });
    // Data entries are stored and 64-byte aligned; the layout torch expects is there.
    const zip = readZip(readFileSync(file), file);
    for (const e of zip.entries.values()) assert.equal(e.dataOffset % 64, 0);
    assert.ok(zip.entries.has('archive/version') && zip.entries.has('archive/byteorder') && zip.entries.has('archive/data.pkl'));
  }
  // A custom wrapper key is found with `key`.
  const file = join(dir, 'custom.pth');
  await savePth(file, sd, { wrap: 'ema' });
  await rejectsClap(() => loadPthCheckpoint(file, { key: 'nope' }), file, /no dict under key "nope"/);
  assert.equal((await loadPth(file, { key: 'ema' })).size, sd.size);
});

test('tied tensors share one storage when saved, and stay tied when loaded', () => {
  const w: HostTensor = { dtype: 'float32', shape: [5, 4], data: new Float32Array(20).map((_, i) => i) };
  const view: HostTensor = { dtype: 'float32', shape: [5, 4], data: new Float32Array(w.data.buffer as ArrayBuffer, 0, 20) };
  const buf = encodePth(
    new Map([
      ['wte.weight', w],
      ['lm_head.weight', view],
      ['other', { ...w, data: new Float32Array(20) }],
    ]),
  );
  const zip = readZip(buf, 'x');
  assert.deepEqual(
    [...zip.entries.keys()].filter((k) => k.includes('/data/')),
    ['archive/data/0', 'archive/data/1'],
  );
  const got = readPth(buf, 'x').tensors;
  assert.equal(got.get('wte.weight')!.data.byteOffset, got.get('lm_head.weight')!.data.byteOffset);
});

/** A torch-style archive with a hand-written data.pkl. */
function archive(pkl: Uint8Array, data: Record<string, Uint8Array>, align = 64): Buffer {
  return Buffer.concat(
    buildZip(
      [
        { name: 'ckpt/data.pkl', data: pkl },
        ...Object.entries(data).map(([k, v]) => ({ name: `ckpt/data/${k}`, data: v })),
        { name: 'ckpt/version', data: new TextEncoder().encode('3\n') },
      ],
      { align },
    ),
  );
}

/** data.pkl for {name: tensor view (storage type, key, numel, offset, size, stride)}. */
function tensorPickle(
  entries: { name: string; type: string; key: string; numel: number; offset?: number; size: number[]; stride: number[] }[],
): Uint8Array {
  const p = new PickleWriter();
  p.emptyDict().str('state_dict').global('collections', 'OrderedDict').emptyTuple().reduce().mark();
  for (const e of entries) {
    p.str(e.name).global('torch._utils', '_rebuild_parameter').mark();
    p.global('torch._utils', '_rebuild_tensor_v2').mark();
    p.mark().str('storage').global('torch', e.type).str(e.key).str('cpu').int(e.numel).tuple().binpersid();
    p.int(e.offset ?? 0)
      .ints(e.size)
      .ints(e.stride)
      .bool(false)
      .global('collections', 'OrderedDict')
      .emptyTuple()
      .reduce()
      .tuple()
      .reduce();
    p.bool(true).global('collections', 'OrderedDict').emptyTuple().reduce().tuple().reduce();
  }
  return p.setitems().setitem().stop().finish();
}

test('strided views, offsets and misaligned storages are materialised correctly', () => {
  const base = new Float32Array(24).map((_, i) => i);
  const longs = new BigInt64Array([10n, 11n, 12n, 13n, 14n, 15n]);
  const pkl = tensorPickle([
    { name: 't', type: 'FloatStorage', key: '0', numel: 24, size: [4, 6], stride: [1, 4] }, // transposed [6,4]
    { name: 'slice', type: 'FloatStorage', key: '0', numel: 24, offset: 5, size: [3], stride: [1] },
    { name: 'every3', type: 'FloatStorage', key: '0', numel: 24, offset: 1, size: [2, 2], stride: [12, 3] },
    { name: 'bcast', type: 'FloatStorage', key: '0', numel: 24, offset: 2, size: [2, 3], stride: [0, 1] },
    { name: 'longT', type: 'LongStorage', key: '1', numel: 6, size: [3, 2], stride: [1, 3] },
  ]);
  for (const align of [64, 1]) {
    const buf = archive(pkl, { 0: new Uint8Array(base.buffer), 1: new Uint8Array(longs.buffer) }, align);
    const sd = readPth(buf, 'x').tensors; // unwraps {'state_dict': …} and Parameter
    const t = sd.get('t')!.data as Float32Array;
    const want = [];
    for (let i = 0; i < 4; i++) for (let j = 0; j < 6; j++) want.push(j * 4 + i);
    assert.deepEqual([...t], want);
    assert.deepEqual([...(sd.get('slice')!.data as Float32Array)], [5, 6, 7]);
    assert.deepEqual([...(sd.get('every3')!.data as Float32Array)], [1, 4, 13, 16]);
    assert.deepEqual([...(sd.get('bcast')!.data as Float32Array)], [2, 3, 4, 2, 3, 4]);
    assert.deepEqual([...(sd.get('longT')!.data as BigInt64Array)], [10n, 13n, 11n, 14n, 12n, 15n]);
  }
});

test('hostile checkpoints fail with one-line ClapErrors naming the file', async () => {
  const write = (name: string, bytes: Uint8Array): string => {
    const f = join(dir, name);
    writeFileSync(f, bytes);
    return f;
  };
  const good = encodePth(sampleTensors());
  await rejectsClap(() => loadPth(write('empty.pth', new Uint8Array(0))), 'empty.pth', /empty/);
  await rejectsClap(
    () => loadPth(write('text.pth', new TextEncoder().encode('definitely not a checkpoint, just some text here'))),
    'text.pth',
    /not a zip/,
  );
  await rejectsClap(() => loadPth(write('legacy.pth', new Uint8Array([0x80, 0x02, 0x8a, 0x0a]))), 'legacy.pth', /legacy/);
  for (const cut of [4, 100, 1000, Math.floor(good.length / 2), good.length - 40, good.length - 1]) {
    await rejectsClap(() => loadPth(write(`cut${cut}.pth`, good.subarray(0, cut))), `cut${cut}.pth`, /truncated|corrupt|not a zip/);
  }
  const noPkl = Buffer.concat(buildZip([{ name: 'ckpt/version', data: new Uint8Array([0x33]) }]));
  await rejectsClap(() => loadPth(write('nopkl.pth', noPkl)), 'nopkl.pth', /no <archive>\/data\.pkl/);
  const jit = Buffer.concat(
    buildZip([
      { name: 'm/code/m.py', data: new Uint8Array(1) },
      { name: 'm/constants.pkl', data: new Uint8Array(1) },
    ]),
  );
  await rejectsClap(() => loadPth(write('jit.pt', jit)), 'jit.pt', /TorchScript/);

  // os.system / builtins.eval in data.pkl: refused by name, nothing runs.
  const marker = join(dir, 'PWNED');
  for (const [mod, fn] of [
    ['os', 'system'],
    ['builtins', 'eval'],
    ['posix', 'system'],
    ['subprocess', 'Popen'],
  ]) {
    const cmd = fn === 'eval' ? `__import__('os').system('touch ${marker}')` : `touch ${marker}`;
    const body = Buffer.from(cmd, 'utf8');
    const pkl = Buffer.concat([
      Buffer.from(`\x80\x02c${mod}\n${fn}\nX`, 'latin1'),
      Buffer.from(new Uint32Array([body.length]).buffer),
      body,
      Buffer.from('\x85R.', 'latin1'),
    ]);
    const f = write(`evil-${fn}.pth`, archive(pkl, {}));
    await rejectsClap(() => loadPth(f), `evil-${fn}.pth`, new RegExp(`"${mod}\\.${fn}"`), /not allowed/);
  }
  assert.equal(existsSync(marker), false, 'nothing was executed');

  // Storage smaller than data.pkl claims; view larger than its storage.
  const small = archive(tensorPickle([{ name: 'w', type: 'FloatStorage', key: '0', numel: 100, size: [10, 10], stride: [10, 1] }]), {
    0: new Uint8Array(40),
  });
  await rejectsClap(
    () => loadPth(write('small.pth', small)),
    'small.pth',
    /storage "0" holds 40 bytes but data\.pkl says 100 × float32 = 400 bytes/,
  );
  const over = archive(tensorPickle([{ name: 'w', type: 'FloatStorage', key: '0', numel: 10, size: [10, 10], stride: [10, 1] }]), {
    0: new Uint8Array(40),
  });
  await rejectsClap(() => loadPth(write('over.pth', over)), 'over.pth', /tensor "w".*storage "0" holds only 10 elements/);
  const offset = archive(tensorPickle([{ name: 'w', type: 'FloatStorage', key: '0', numel: 10, offset: 8, size: [3], stride: [1] }]), {
    0: new Uint8Array(40),
  });
  await rejectsClap(() => loadPth(write('offset.pth', offset)), 'offset.pth', /reaches element 10/);
  const missing = archive(tensorPickle([{ name: 'w', type: 'FloatStorage', key: '9', numel: 10, size: [10], stride: [1] }]), {});
  await rejectsClap(() => loadPth(write('missing.pth', missing)), 'missing.pth', /storage "9" has no entry "ckpt\/data\/9"/);
  const bcastBomb = archive(
    tensorPickle([{ name: 'w', type: 'FloatStorage', key: '0', numel: 1, size: [1 << 20, 1 << 20], stride: [0, 0] }]),
    { 0: new Uint8Array(4) },
  );
  await rejectsClap(() => loadPth(write('bomb.pth', bcastBomb)), 'bomb.pth', /more than the file itself/);

  // A 2 GB size claim in the central directory.
  const huge = Buffer.from(good);
  const cd = huge.readUInt32LE(huge.length - 6);
  const at = cd + 46 + huge.readUInt16LE(cd + 28) + huge.readUInt16LE(cd + 30);
  const next = at + 46 + huge.readUInt16LE(at + 28) + huge.readUInt16LE(at + 30);
  huge.writeUInt32LE(0x80000000, next + 20);
  huge.writeUInt32LE(0x80000000, next + 24);
  await rejectsClap(() => loadPth(write('huge.pth', huge)), 'huge.pth', /claims 2147483648 bytes/);

  // A directory, a missing file.
  const sub = join(dir, 'a-directory.pth');
  mkdirSync(sub);
  await rejectsClap(() => loadPth(sub), 'a-directory.pth', /is a directory/);
  await rejectsClap(() => loadPth(join(dir, 'nope.pth')), 'nope.pth', /no such file/);
  throwsClap(() => readPth(new Uint8Array(0), 'buf.pth'), 'buf.pth', /empty/);
});

test('savePth is atomic and refuses bad tensors with the key named', async () => {
  const file = join(dir, 'atomic.pth');
  await savePth(file, sampleTensors());
  const before = readFileSync(file);
  const bad: HostTensor = { dtype: 'float32', shape: [3], data: new Float32Array(2) };
  await rejectsClap(() => savePth(file, { ok: sampleTensors().get('scale')!, broken: bad }), 'atomic.pth', /"broken".*needs 3 elements/);
  assert.ok(readFileSync(file).equals(before), 'the old file is untouched');
  const wrongType: HostTensor = { dtype: 'float16', shape: [2], data: new Float32Array(2) };
  await rejectsClap(() => savePth(file, { w: wrongType }), 'atomic.pth', /float16 data must be a Uint16Array/);
  await rejectsClap(() => savePth(join(dir, 'no-such-dir', 'x.pth'), sampleTensors()), 'x.pth', /cannot write/);
});
