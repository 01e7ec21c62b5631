import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanUpTokenization, decodeUtf8Replace, pythonCapitalize, toTitleCase } from '../../src/text/index.js';

test('pythonCapitalize: str.capitalize() semantics', () => {
  // Expected values are CPython 3.11's str.capitalize().
  const cases: Array<[string, string]> = [
    ['', ''],
    [' saurRIRIRI', ' saurririri'], // leading space: no capital at all
    ['atelRIRIRI', 'Atelririri'],
    ['HELLO World', 'Hello world'],
    ['123ABC', '123abc'],
    ['ßig', 'Ssig'], // full titlecase mapping
    ['ǆemal', 'ǅemal'], // digraph: titlecase, not uppercase 'Ǆ'
    ['ﬁsh', 'Fish'],
    ['ა', 'ა'], // Georgian Mkhedruli: titlecase is itself (upper would be Mtavruli)
    ['ΑΣ', 'Ας'], // final sigma sees the first character as context
    ['ΣΑΣ ΣΑ', 'Σας σα'],
    ['İSTANBUL', 'İstanbul'],
    ['😀ABC', '😀abc'],
  ];
  for (const [input, expected] of cases) assert.equal(pythonCapitalize(input), expected, JSON.stringify(input));
  assert.equal(toTitleCase('ǳ'), 'ǲ');
  assert.equal(toTitleCase('a'), 'A');
});

test('decodeUtf8Replace: invalid UTF-8 → U+FFFD per maximal subpart, as Python errors="replace"', () => {
  // Expected values are CPython's bytes.decode('utf-8', 'replace').
  const cases: Array<[number[], string]> = [
    [[0xe6, 0x97], '\ufffd'], // truncated 3-byte sequence: one replacement
    [[0xe6, 0x97, 0x41], '\ufffdA'],
    [[0xe6, 0x97, 0xa5], '日'],
    [[0x80], '\ufffd'],
    [[0xc0, 0xaf], '\ufffd\ufffd'], // overlong lead byte
    [[0xed, 0xa0, 0x80], '\ufffd\ufffd\ufffd'], // encoded surrogate
    [[0xf0, 0x80, 0x80], '\ufffd\ufffd\ufffd'], // F0 needs 90..BF next
    [[0xf4, 0x90, 0x80, 0x80], '\ufffd\ufffd\ufffd\ufffd'], // above U+10FFFF
    [[0xf0, 0x9f, 0x98], '\ufffd'],
    [[0xff, 0x41, 0xfe], '\ufffdA\ufffd'],
    [[0xef, 0xbb, 0xbf, 0x61], '\ufeffa'], // a BOM is kept, not stripped
  ];
  for (const [bytes, expected] of cases) assert.equal(decodeUtf8Replace(Uint8Array.from(bytes)), expected, bytes.join(','));
});

test('cleanUpTokenization: transformers clean_up_tokenization', () => {
  assert.equal(cleanUpTokenization("a dog barks . it 's loud , is n't it ? yes !"), "a dog barks. it's loud, isn't it? yes!");
  assert.equal(cleanUpTokenization(" they 're here ' ok"), " they're here'ok"); // " ' " → "'"
  assert.equal(cleanUpTokenization(' trailing space '), ' trailing space ');
});
