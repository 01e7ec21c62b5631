export * from './elementwise.js';
export * from './shape.js';
export * from './reduce.js';
export * from './nn.js';
export type { Operand } from './op.js';
export * from './broadcast.js';
export * from './control.js';
export * from './signal.js';
