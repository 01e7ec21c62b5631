/** Registers every op's gradient rule (imported by autodiff before it differentiates anything). */
import './elementwise.js';
import './reduce.js';
import './shape.js';
import './nn.js';

export { gradientOf } from './registry.js';
