import type { Graph } from './graph.js';
import type { Dim } from './shape.js';

/**
 * Multiply-add FLOPs (2 per MAC) of the MatMul/Gemm/Conv nodes of a graph, with symbolic sizes bound
 * by `sizes` (e.g. { B: 1 }). Other ops are memory-bound and left out, as FLOP counts usually do.
 */
export function countFlops(graph: Graph, sizes: Record<string, number>): number {
  const val = (d: Dim): number => {
    if (typeof d === 'number') return d;
    return d.split('*').reduce((acc, part) => {
      const v = /^\d+$/.test(part) ? Number(part) : sizes[part];
      if (v === undefined) throw new Error(`countFlops: no size for '${part}'`);
      return acc * v;
    }, 1);
  };
  let flops = 0;
  for (const node of graph.nodes) {
    const t = node.op.type;
    if (t === 'MatMul' || t === 'Gemm') {
      const a = node.inputs[0].shape;
      const out = node.outputs[0].shape.map(val).reduce((x, y) => x * y, 1);
      flops += 2 * out * val(a[a.length - 1]);
    } else if (t === 'Conv') {
      const w = node.inputs[1].shape.map(val);
      const out = node.outputs[0].shape.map(val).reduce((x, y) => x * y, 1);
      flops += 2 * out * w[1] * w[2] * w[3];
    }
  }
  return flops;
}
