/** Queue pieces that need no Redis: URLs, path maps, the vector payload. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseQueueUrl } from '../../src/tasks/queue/connection.js';
import { decodeVectors, encodeVectors } from '../../src/tasks/queue/protocol.js';
import { mapPath } from '../../src/tasks/queue/worker.js';

test('queue URLs: redis://HOST[:PORT][/DB]; anything else is a one-line error naming it', () => {
  assert.deepEqual(parseQueueUrl('redis://10.0.0.5:6380/2'), { url: 'redis://10.0.0.5:6380/2', host: '10.0.0.5', port: 6380, db: 2 });
  assert.deepEqual(parseQueueUrl('redis://queue.local'), { url: 'redis://queue.local', host: 'queue.local', port: 6379, db: 0 });
  assert.throws(() => parseQueueUrl('http://x:1'), /^ClapError: http:\/\/x:1: not a queue URL/);
  assert.throws(() => parseQueueUrl('localhost:6379'), /not a queue URL/);
  assert.throws(() => parseQueueUrl('redis://h:1/x'), /database number must be a non-negative integer, got 'x'/);
});

test('--path-map rewrites whole leading folders only; the first match wins', () => {
  const map = [
    { from: '/mnt/sounds', to: '/data/sounds' },
    { from: '/mnt', to: '/other' },
  ];
  assert.equal(mapPath('/mnt/sounds/a/b.wav', map), '/data/sounds/a/b.wav');
  assert.equal(mapPath('/mnt/soundscape/x.wav', map), '/other/soundscape/x.wav');
  assert.equal(mapPath('/home/x.wav', map), '/home/x.wav');
  assert.equal(mapPath('/mnt/sounds', map), '/data/sounds');
});

test('vectors travel bit-exact as base64 float32', () => {
  const vs = [Float32Array.from([1.5, -0, Number.MIN_VALUE, 3.4e38]), Float32Array.from([Math.PI, -1e-30, 0.1, 7])];
  const back = decodeVectors(encodeVectors(vs), 4);
  assert.equal(back.length, 2);
  for (let i = 0; i < 2; i++) assert.deepEqual(Array.from(back[i]), Array.from(vs[i]));
  assert.throws(() => decodeVectors(encodeVectors(vs), 3), /not a multiple of 3 float32s/);
});
