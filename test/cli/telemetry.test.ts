/**
 * onnxruntime-node 1.30 (Linux) starts Microsoft's telemetry client with a session unless ORT_DISABLE_TELEMETRY
 * is set; it leaves a session file and a debug log in TMPDIR. clap-ts turns it off unless the user set it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clapCli } from '../helpers/cli.js';
import { fixturePath } from '../helpers/fixtures.js';

test('onnxruntime telemetry is off: a first run (models built) leaves nothing in TMPDIR', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'clap-telemetry-tmp-'));
  const { ORT_DISABLE_TELEMETRY: _, ...env } = process.env;
  const cli = clapCli({ ...env, TMPDIR: tmp, CLAP_CACHE_DIR: mkdtempSync(join(tmpdir(), 'clap-telemetry-cache-')), CLAP_THREADS: '1' });
  await cli.ok('embed', 'text', 'a dog barking', '--weights', fixturePath('clap.pth'), '--config', fixturePath('config.json'));
  assert.deepEqual(readdirSync(tmp), []);
});
