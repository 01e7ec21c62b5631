import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as pkg from '../src/index.js';

test('the package root exports the library API', () => {
  for (const name of [
    'Clap',
    'ClapError',
    'loadWeights',
    'savePth',
    'decodeAudio',
    'Gpt2Tokenizer',
    'CLAP_2023',
    'engine',
    'ClapIndex',
    'ClapCapDecoder',
    'ClapCap',
    'isInputError',
    'loadHearModel',
  ]) {
    assert.ok(name in pkg, name);
  }
  assert.equal(typeof pkg.Clap.load, 'function');
});
