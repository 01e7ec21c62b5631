/**
 * Random Unicode text for tokenizer fuzzing: words from a mix of scripts and the characters tokenizers
 * treat specially (whitespace of every kind, controls, format characters, combining marks, CJK, kana,
 * Hangul, punctuation, emoji, ligatures, full-width forms, case-mapping corners), from a seeded generator.
 */
import type { Rng } from '../../src/tasks/rng.js';

const POOLS: string[] = [
  'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ',
  '0123456789',
  '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~',
  ' \t\n\r\v\f\u0085\u00a0\u1680\u2000\u2007\u200a\u2028\u2029\u202f\u205f\u3000\u001c\u001f',
  '\u0000\u0001\u007f\u200b\u200c\u200d\u2060\ufeff\u00ad\ufffd\ue000\u{10ffff}\u0378',
  'àáâãäåæçèéêëìíîïñòóôõöøùúûüýÿÀÉÎÕÜßœŒ',
  'e\u0301a\u0300o\u0308n\u0303\u0327\u20dd\u0903',
  'ΣσςΑΒΓΔαβγδΩωİıĲĳǅǆ',
  'абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГД',
  '日本語中文字漢字一二三丁七\u{20000}\u{2b820}\u{2b920}\uf900\ufa0d',
  'ひらがなカタカナｶﾀｶﾅ',
  '한국어한글',
  '😀😁🎵🔊👍🏽🇫🇷🥺\u{1fae0}',
  'ﬁﬂＡＢＣａｂｃ１２３',
  '—–‘’“”…«»¿¡·•†‡※',
  'العربية עברית हिन्दी ไทย',
  "'s't're've'm'll'd",
];

/** A random string of up to `maxLen` code points. */
export function randomText(rng: Rng, maxLen = 24): string {
  const n = rng.int(maxLen + 1);
  let s = '';
  for (let i = 0; i < n; i++) {
    const pool = Array.from(POOLS[rng.int(POOLS.length)]!);
    s += pool[rng.int(pool.length)];
  }
  return s;
}
