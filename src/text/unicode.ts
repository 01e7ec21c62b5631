/**
 * The Python string semantics msclap's text path relies on, in JavaScript:
 * `str.capitalize()` (generate_caption), `bytes.decode('utf-8', errors='replace')` (GPT-2 decoding)
 * and Unicode `\s` as the GPT-2 pre-tokenizer regex sees it.
 */

/**
 * Unicode White_Space: what `\s` matches in the regex engines Hugging Face's GPT-2 tokenizers use
 * (Python `regex` for the slow tokenizer, Oniguruma in the Rust one). JavaScript's `\s` differs:
 * it adds U+FEFF and lacks U+0085, so the pre-tokenizer spells the class out. For use inside `[...]`.
 */
export const WHITE_SPACE_CLASS = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Replaces unpaired UTF-16 surrogates (not encodable as UTF-8) by U+FFFD, as `TextEncoder` does. */
export function toWellFormed(text: string): string {
  return text.replace(LONE_SURROGATE, '\ufffd');
}

// `ignoreBOM: true` keeps a leading U+FEFF: Python's 'utf-8' codec and Rust's from_utf8_lossy do not strip it.
const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/**
 * UTF-8 → string with each maximal invalid subpart replaced by one U+FFFD (WHATWG "replacement"),
 * which is what Python's `bytes.decode('utf-8', 'replace')` and Rust's `String::from_utf8_lossy` do.
 */
export function decodeUtf8Replace(bytes: Uint8Array): string {
  return utf8.decode(bytes);
}

/**
 * Characters whose Unicode titlecase differs from their uppercase (Python's full case mapping,
 * Unicode 14 / CPython 3.11): digraphs, ligatures, Greek with ypogegrammeni, Georgian Mkhedruli.
 */
const TITLE_IS_SELF: ReadonlyArray<readonly [number, number]> = [
  [0x01c5, 0x01c5],
  [0x01c8, 0x01c8],
  [0x01cb, 0x01cb],
  [0x01f2, 0x01f2],
  [0x10d0, 0x10fa],
  [0x10fd, 0x10ff],
  [0x1f88, 0x1f8f],
  [0x1f98, 0x1f9f],
  [0x1fa8, 0x1faf],
  [0x1fbc, 0x1fbc],
  [0x1fcc, 0x1fcc],
  [0x1ffc, 0x1ffc],
];
const TITLE_MAPPED: ReadonlyArray<readonly [number, string]> = [
  [0x00df, 'Ss'],
  [0x01c4, '\u01c5'],
  [0x01c6, '\u01c5'],
  [0x01c7, '\u01c8'],
  [0x01c9, '\u01c8'],
  [0x01ca, '\u01cb'],
  [0x01cc, '\u01cb'],
  [0x01f1, '\u01f2'],
  [0x01f3, '\u01f2'],
  [0x0587, '\u0535\u0582'],
  [0x1f80, '\u1f88'],
  [0x1f81, '\u1f89'],
  [0x1f82, '\u1f8a'],
  [0x1f83, '\u1f8b'],
  [0x1f84, '\u1f8c'],
  [0x1f85, '\u1f8d'],
  [0x1f86, '\u1f8e'],
  [0x1f87, '\u1f8f'],
  [0x1f90, '\u1f98'],
  [0x1f91, '\u1f99'],
  [0x1f92, '\u1f9a'],
  [0x1f93, '\u1f9b'],
  [0x1f94, '\u1f9c'],
  [0x1f95, '\u1f9d'],
  [0x1f96, '\u1f9e'],
  [0x1f97, '\u1f9f'],
  [0x1fa0, '\u1fa8'],
  [0x1fa1, '\u1fa9'],
  [0x1fa2, '\u1faa'],
  [0x1fa3, '\u1fab'],
  [0x1fa4, '\u1fac'],
  [0x1fa5, '\u1fad'],
  [0x1fa6, '\u1fae'],
  [0x1fa7, '\u1faf'],
  [0x1fb2, '\u1fba\u0345'],
  [0x1fb3, '\u1fbc'],
  [0x1fb4, '\u0386\u0345'],
  [0x1fb7, '\u0391\u0342\u0345'],
  [0x1fc2, '\u1fca\u0345'],
  [0x1fc3, '\u1fcc'],
  [0x1fc4, '\u0389\u0345'],
  [0x1fc7, '\u0397\u0342\u0345'],
  [0x1ff2, '\u1ffa\u0345'],
  [0x1ff3, '\u1ffc'],
  [0x1ff4, '\u038f\u0345'],
  [0x1ff7, '\u03a9\u0342\u0345'],
  [0xfb00, 'Ff'],
  [0xfb01, 'Fi'],
  [0xfb02, 'Fl'],
  [0xfb03, 'Ffi'],
  [0xfb04, 'Ffl'],
  [0xfb05, 'St'],
  [0xfb06, 'St'],
  [0xfb13, '\u0544\u0576'],
  [0xfb14, '\u0544\u0565'],
  [0xfb15, '\u0544\u056b'],
  [0xfb16, '\u054e\u0576'],
  [0xfb17, '\u0544\u056d'],
];
const titleOverrides = new Map<number, string>(TITLE_MAPPED);
for (const [lo, hi] of TITLE_IS_SELF) for (let cp = lo; cp <= hi; cp++) titleOverrides.set(cp, String.fromCodePoint(cp));

/** Unicode full titlecase of one code point (Python's `_PyUnicode_ToTitleFull`). */
export function toTitleCase(char: string): string {
  const cp = char.codePointAt(0);
  if (cp === undefined) return char;
  return titleOverrides.get(cp) ?? char.toUpperCase();
}

/**
 * Python 3.8+ `str.capitalize()`: the first code point in titlecase, the rest lower-cased (full
 * mappings, final-sigma rule with the whole string as context). A string starting with a space or
 * other uncased character gets no capital at all: `" saurriRI".capitalize() == " saurriri"`.
 */
export function pythonCapitalize(s: string): string {
  if (s.length === 0) return s;
  const first = String.fromCodePoint(s.codePointAt(0)!);
  // Lower-case the whole string so Σ's final-sigma test sees the first character too (as CPython's
  // lower_ucs4 does), then drop the first character's lowercase, which never depends on context.
  const lowered = s.toLowerCase();
  const firstLowered = first.toLowerCase();
  const rest = lowered.startsWith(firstLowered) ? lowered.slice(firstLowered.length) : s.slice(first.length).toLowerCase();
  return toTitleCase(first) + rest;
}

/**
 * `PreTrainedTokenizerBase.clean_up_tokenization` (transformers 4.x), applied by `tokenizer.decode`
 * when `clean_up_tokenization_spaces` is true — the 4.x default for GPT-2, whose hub config does not
 * set it. Removes the space before `. ? ! ,` and in a few English contractions.
 */
export function cleanUpTokenization(text: string): string {
  return text
    .replaceAll(' .', '.')
    .replaceAll(' ?', '?')
    .replaceAll(' !', '!')
    .replaceAll(' ,', ',')
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}
