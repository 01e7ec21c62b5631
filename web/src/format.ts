/** How numbers, times and paths read on the page. */

/** 75.3 → '1:15.3'; 4.25 → '0:04.3'. */
export function clock(seconds: number, digits = 1): string {
  const m = Math.floor(seconds / 60);
  const s = seconds - m * 60;
  return `${m}:${s.toFixed(digits).padStart(digits ? 3 + digits : 2, '0')}`;
}

/** 1234567 → '1.2 MB' (binary multiples, as --max-upload-mb counts them). */
export function bytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i && n < 10 ? 1 : 0)} ${units[i]}`;
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** '/a/b/c.wav' → { folder: '/a/b', name: 'c.wav' }. */
export function splitPath(path: string): { folder: string; name: string } {
  const cut = path.lastIndexOf('/');
  return { folder: cut > 0 ? path.slice(0, cut) : '/', name: path.slice(cut + 1) };
}

/** Seconds left as '0:42' or '1h05m'; '—' while unknown. */
export function eta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '—';
  if (seconds >= 3600) return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
  return clock(seconds, 0);
}
