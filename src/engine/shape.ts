/**
 * Symbolic shapes. A dimension is a number or a monomial over named sizes, written canonically as a
 * string such as "B", "64*B" or "B*T": batch and sequence sizes stay symbolic so one graph serves them all.
 */
export type Dim = number | string;
export type Shape = Dim[];

interface Monomial {
  k: number;
  syms: string[];
}

function parse(d: Dim): Monomial {
  if (typeof d === 'number') return { k: d, syms: [] };
  let k = 1;
  const syms: string[] = [];
  for (const part of d.split('*')) {
    if (/^\d+$/.test(part)) k *= Number(part);
    else syms.push(part);
  }
  return { k, syms: syms.sort() };
}

function format(m: Monomial): Dim {
  if (m.syms.length === 0) return m.k;
  return (m.k === 1 ? [] : [String(m.k)]).concat(m.syms).join('*');
}

export function isStatic(shape: readonly Dim[]): shape is number[] {
  return shape.every((d) => typeof d === 'number');
}

export function dimEq(a: Dim, b: Dim): boolean {
  return format(parse(a)) === format(parse(b));
}

export function dimMul(a: Dim, b: Dim): Dim {
  const ma = parse(a);
  const mb = parse(b);
  if (ma.k === 0 || mb.k === 0) return 0;
  return format({ k: ma.k * mb.k, syms: [...ma.syms, ...mb.syms].sort() });
}

/** a / b, or undefined when b does not divide a exactly. */
export function dimDiv(a: Dim, b: Dim): Dim | undefined {
  const ma = parse(a);
  const mb = parse(b);
  if (mb.k === 0 || ma.k % mb.k !== 0) return undefined;
  const syms = [...ma.syms];
  for (const s of mb.syms) {
    const i = syms.indexOf(s);
    if (i < 0) return undefined;
    syms.splice(i, 1);
  }
  return format({ k: ma.k / mb.k, syms });
}

export function product(shape: readonly Dim[]): Dim {
  return shape.reduce<Dim>((acc, d) => dimMul(acc, d), 1);
}

export function shapeToString(shape: readonly Dim[]): string {
  return `[${shape.join(', ')}]`;
}

/** NumPy broadcasting of two shapes (symbolic dims must match exactly or meet a 1). */
export function broadcastShapes(a: readonly Dim[], b: readonly Dim[]): Dim[] {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const da = i < n - a.length ? 1 : a[i - (n - a.length)];
    const db = i < n - b.length ? 1 : b[i - (n - b.length)];
    if (dimEq(da, db) || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else throw new Error(`cannot broadcast ${shapeToString(a)} with ${shapeToString(b)}`);
  }
  return out;
}

export function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`axis ${axis} out of range for rank ${rank}`);
  return a;
}
