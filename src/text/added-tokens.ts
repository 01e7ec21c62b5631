/**
 * Added (special) tokens: literal strings such as `<s>`, `<mask>` or `[SEP]` that are cut out of the
 * text before normalisation and sub-word splitting and map straight to their id, as Hugging Face's
 * tokenizers do (leftmost match, the longest one where several start at the same place).
 *
 * `lstrip` / `rstrip` tokens also swallow the whitespace on that side (RoBERTa's `<mask>` is lstrip:
 * `"a <mask>"` gives `a` and `<mask>`, no `Ġ`). Whitespace is Unicode White_Space, as Rust's
 * `char::is_whitespace` in the fast tokenizers that transformers uses by default.
 */
import { WHITE_SPACE_CLASS } from './unicode.js';

export interface AddedToken {
  content: string;
  id: number;
  lstrip?: boolean;
  rstrip?: boolean;
}

/** A piece of text between added tokens, or an added token's id. */
export type Segment = string | number;

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

export class AddedTokens {
  private readonly pattern: RegExp | null;
  private readonly idOf = new Map<string, number>();

  constructor(tokens: readonly AddedToken[]) {
    const sorted = tokens.filter((t) => t.content.length > 0).sort((a, b) => b.content.length - a.content.length);
    for (const t of sorted) this.idOf.set(t.content, t.id);
    // One capture group per token keeps its stripped whitespace outside the group.
    const alternatives = sorted.map((t) => {
      const left = t.lstrip ? `[${WHITE_SPACE_CLASS}]*` : '';
      const right = t.rstrip ? `[${WHITE_SPACE_CLASS}]*` : '';
      return `${left}(${escapeRegExp(t.content)})${right}`;
    });
    this.pattern = alternatives.length > 0 ? new RegExp(alternatives.join('|'), 'gu') : null;
  }

  /** The id of an added token's content, if it is one. */
  id(content: string): number | undefined {
    return this.idOf.get(content);
  }

  /** `text` cut at every added token: ordinary pieces (never empty) and token ids, in order. */
  split(text: string): Segment[] {
    const out: Segment[] = [];
    if (!this.pattern) {
      if (text.length > 0) out.push(text);
      return out;
    }
    let start = 0;
    this.pattern.lastIndex = 0;
    for (let m = this.pattern.exec(text); m !== null; m = this.pattern.exec(text)) {
      if (m[0].length === 0) {
        this.pattern.lastIndex++;
        continue;
      }
      if (m.index > start) out.push(text.slice(start, m.index));
      const content = m.slice(1).find((g) => g !== undefined) as string;
      out.push(this.idOf.get(content) as number);
      start = m.index + m[0].length;
    }
    if (start < text.length) out.push(text.slice(start));
    return out;
  }
}
