import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildZip, readZip, zipEntryData } from '../../src/weights/zip.js';
import { noise, throwsClap } from './helpers.js';

const F = '/tmp/hostile.zip';
const join = (chunks: Uint8Array[]): Buffer => Buffer.concat(chunks);

function sampleZip(forceZip64 = false): Buffer {
  return join(
    buildZip(
      [
        { name: 'archive/data.pkl', data: new TextEncoder().encode('pickle bytes') },
        { name: 'archive/data/0', data: [noise(100, 1), noise(28, 2)] },
        { name: 'archive/data/1', data: new Uint8Array(0) },
        { name: 'archive/version', data: new TextEncoder().encode('3\n') },
      ],
      { forceZip64 },
    ),
  );
}

for (const forceZip64 of [false, true]) {
  test(`buildZip → readZip round trip${forceZip64 ? ' (zip64 records)' : ''}: stored, 64-byte aligned, zero-copy`, () => {
    const buf = sampleZip(forceZip64);
    const zip = readZip(buf, F);
    assert.deepEqual([...zip.entries.keys()], ['archive/data.pkl', 'archive/data/0', 'archive/data/1', 'archive/version']);
    for (const e of zip.entries.values()) {
      assert.equal(e.dataOffset % 64, 0, `${e.name} aligned`);
      assert.equal(e.method, 0);
    }
    const d0 = zipEntryData(zip, zip.entries.get('archive/data/0')!, { verifyCrc: true });
    assert.deepEqual(Buffer.from(d0), Buffer.concat([noise(100, 1), noise(28, 2)]));
    assert.equal(d0.buffer, buf.buffer, 'a view, not a copy');
    assert.equal(zipEntryData(zip, zip.entries.get('archive/data/1')!, { verifyCrc: true }).length, 0);
    assert.equal(Buffer.from(zipEntryData(zip, zip.entries.get('archive/version')!)).toString(), '3\n');
  });
}

test('Python zipfile-compatible layout: local headers carry the names and sizes', () => {
  const buf = sampleZip();
  assert.equal(buf.readUInt32LE(0), 0x04034b50);
  assert.equal(buf.readUInt16LE(26), 'archive/data.pkl'.length);
  assert.equal(buf.readUInt32LE(18), 'pickle bytes'.length);
});

test('hostile zips fail with one-line ClapErrors naming the file', () => {
  const good = sampleZip();
  throwsClap(() => readZip(new Uint8Array(0), F), F, /not a zip/);
  throwsClap(() => readZip(new TextEncoder().encode('hello, this is not a zip archive at all'), F), F, /not a zip archive/);
  for (const cut of [10, 64, 200, good.length - 100, good.length - 30, good.length - 1]) {
    throwsClap(() => readZip(good.subarray(0, cut), F), F, /truncated|corrupt|not a zip/);
  }
  // Bad CRC in the central directory is caught when the entry is checked.
  const badCrc = Buffer.from(good);
  const zip = readZip(good, F);
  const cdOffset = good.readUInt32LE(good.length - 6);
  badCrc.writeUInt32LE(0xdeadbeef, cdOffset + 16);
  const bad = readZip(badCrc, F);
  throwsClap(() => zipEntryData(bad, bad.entries.get('archive/data.pkl')!, { verifyCrc: true }), F, /CRC-32/);
  assert.ok(zip.entries.size === 4);
});

function patchCentral(buf: Buffer, entryIndex: number, patch: (b: Buffer, at: number) => void): Buffer {
  const out = Buffer.from(buf);
  let p = out.readUInt32LE(out.length - 6);
  for (let i = 0; i < entryIndex; i++) p += 46 + out.readUInt16LE(p + 28) + out.readUInt16LE(p + 30) + out.readUInt16LE(p + 32);
  patch(out, p);
  return out;
}

test('size claims past the end, overlaps, compression and absurd counts are refused', () => {
  const good = sampleZip();
  // A 2 GB size claim for a stored entry.
  const huge = patchCentral(good, 1, (b, at) => {
    b.writeUInt32LE(0x80000000, at + 20);
    b.writeUInt32LE(0x80000000, at + 24);
  });
  throwsClap(() => readZip(huge, F), F, /"archive\/data\/0" claims 2147483648 bytes/);
  // Two entries pointing at the same local header.
  const overlap = patchCentral(good, 2, (b, at) => {
    const first = b.readUInt32LE(b.length - 6);
    b.writeUInt32LE(b.readUInt32LE(first + 42 + 46 + 16), at + 42);
  });
  throwsClap(() => readZip(overlap, F), F, /"archive\/data\/0" and "archive\/data\/1" overlap/);
  // Entry 2 made to start inside entry 1's data (sizes consistent, so only the overlap check catches it).
  const inside = patchCentral(good, 1, (b, at) => {
    b.writeUInt32LE(b.readUInt32LE(at + 24) + 64, at + 20);
    b.writeUInt32LE(b.readUInt32LE(at + 24) + 64, at + 24);
  });
  throwsClap(() => readZip(inside, F), F, /overlap/);
  const deflated = patchCentral(good, 0, (b, at) => b.writeUInt16LE(8, at + 10));
  throwsClap(() => readZip(deflated, F), F, /compressed \(method 8, deflate\)/);
  const encrypted = patchCentral(good, 0, (b, at) => b.writeUInt16LE(1, at + 8));
  throwsClap(() => readZip(encrypted, F), F, /encrypted/);
  const manyEntries = Buffer.from(good);
  manyEntries.writeUInt16LE(0xfffe, good.length - 12);
  manyEntries.writeUInt16LE(0xfffe, good.length - 14);
  throwsClap(() => readZip(manyEntries, F), F, /cannot hold/);
  const cdPast = Buffer.from(good);
  cdPast.writeUInt32LE(0x7fffffff, good.length - 6);
  throwsClap(() => readZip(cdPast, F), F, /central directory/);
});

test('zip64: bad locator offsets are refused, not followed', () => {
  const z64 = sampleZip(true);
  const loc = z64.length - 22 - 20;
  assert.equal(z64.readUInt32LE(loc), 0x07064b50);
  const bad = Buffer.from(z64);
  bad.writeBigUInt64LE(2n ** 40n, loc + 8);
  throwsClap(() => readZip(bad, F), F, /zip64/);
  const bad2 = Buffer.from(z64);
  bad2.writeBigUInt64LE(0n, loc + 8);
  throwsClap(() => readZip(bad2, F), F, /zip64/);
});
