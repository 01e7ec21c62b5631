/**
 * Path globs for search filters, compiled to an anchored regular expression (the store evaluates it).
 *
 * - A pattern without '/' matches the file name: `*.wav`, `door?.{wav,flac}`.
 * - A pattern with '/' matches the whole path; unless it starts with '/' it may match any tail of it:
 *   `drums/*.wav` matches `/lib/drums/kick.wav`, `/lib/**\/drums/*` any folder named drums.
 * - `*` is any run of characters but '/', `**` any run including '/', `?` one character but '/',
 *   `[abc]`, `[a-z]`, `[!abc]` character classes, `{a,b}` alternatives (not nested).
 */
import { ClapError } from '../errors.js';

const REGEX_SPECIAL = new Set(['\\', '^', '$', '.', '|', '+', '(', ')', '[', ']', '{', '}', '*', '?']);

function escapeChar(c: string): string {
  return REGEX_SPECIAL.has(c) ? `\\${c}` : c;
}

/** The regular expression (source, anchored) a glob stands for; its syntax is common to JS and Rust. */
export function globToRegex(glob: string): string {
  if (glob === '') throw new ClapError('empty path glob');
  let body = '';
  let inAlt = false;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') {
      if (glob[i + 1] === '*') {
        i++;
        if (glob[i + 1] === '/') {
          i++;
          body += '(?:.*/)?';
        } else {
          body += '.*';
        }
      } else {
        body += '[^/]*';
      }
    } else if (c === '?') {
      body += '[^/]';
    } else if (c === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close < 0) throw new ClapError(`unclosed '[' in path glob '${glob}'`);
      let cls = glob.slice(i + 1, close);
      const negate = cls.startsWith('!') || cls.startsWith('^');
      if (negate) cls = cls.slice(1);
      body += `[${negate ? '^' : ''}${cls.replace(/[\\\]^[]/g, (m) => `\\${m}`)}]`;
      i = close;
    } else if (c === '{') {
      if (inAlt) throw new ClapError(`nested '{' in path glob '${glob}'`);
      inAlt = true;
      body += '(?:';
    } else if (c === '}' && inAlt) {
      inAlt = false;
      body += ')';
    } else if (c === ',' && inAlt) {
      body += '|';
    } else {
      body += escapeChar(c);
    }
  }
  if (inAlt) throw new ClapError(`unclosed '{' in path glob '${glob}'`);
  if (!glob.includes('/')) return `(?:^|/)${body}$`;
  if (glob.startsWith('/')) return `^${body}$`;
  return `(?:^|/)${body}$`;
}

/** A JS matcher for the same glob (for stores that filter in JS). */
export function globMatcher(glob: string): (path: string) => boolean {
  const re = new RegExp(globToRegex(glob));
  return (path) => re.test(path);
}
