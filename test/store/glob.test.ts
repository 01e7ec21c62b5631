import { test } from 'node:test';
import assert from 'node:assert/strict';
import { globMatcher, globToRegex } from '../../src/store/glob.js';

test('path globs: names without a slash, tails with one, absolute paths, ** and classes', () => {
  const cases: [string, string, boolean][] = [
    ['*.wav', '/lib/a/door.wav', true],
    ['*.wav', '/lib/a/door.wav.bak', false],
    ['door?.{wav,flac}', '/x/door1.flac', true],
    ['door?.{wav,flac}', '/x/door12.flac', false],
    ['drums/*.wav', '/lib/drums/kick.wav', true],
    ['drums/*.wav', '/lib/drums/sub/kick.wav', false],
    ['drums/**/*.wav', '/lib/drums/sub/deep/kick.wav', true],
    ['drums/**/*.wav', '/lib/drums/kick.wav', true],
    ['/lib/**', '/lib/x/y.wav', true],
    ['/lib/*', '/other/lib/x.wav', false],
    ['[a-c]*.wav', '/z/beep.wav', true],
    ['[!a-c]*.wav', '/z/beep.wav', false],
    ['*.WAV', '/z/x.wav', false],
    ["it's (1).wav", "/z/it's (1).wav", true],
  ];
  for (const [glob, path, want] of cases) assert.equal(globMatcher(glob)(path), want, `${glob} ~ ${path}`);
  assert.throws(() => globToRegex('a{b'), /unclosed/);
  assert.throws(() => globToRegex('[ab'), /unclosed/);
});
