/**
 * Resumable training checkpoints: one safetensors file (written atomically: temporary file, fsync,
 * rename) holding the trainable parameters under their graph names, the optimiser moments, and a JSON
 * `state` metadata entry (step, epoch, position in the epoch, RNG state, schedule, history, options).
 * Tensors round-trip bit-exactly.
 */
import type { HostTensor, OptimizerState } from '../../engine/index.js';
import { loadSafetensorsCheckpoint, saveSafetensors } from '../../weights/index.js';
import { ClapError } from '../../errors.js';

const PARAM = 'param/';
const SLOT = 'slot/';

export interface CheckpointData<S> {
  params: Record<string, HostTensor>;
  optimizer: OptimizerState;
  state: S;
}

export async function saveCheckpoint<S>(file: string, d: CheckpointData<S>): Promise<void> {
  const sd = new Map<string, HostTensor>();
  for (const [k, t] of Object.entries(d.params)) sd.set(PARAM + k, t);
  for (const [p, slots] of Object.entries(d.optimizer.slots)) {
    for (const [slot, t] of Object.entries(slots)) sd.set(`${SLOT}${slot}/${p}`, t);
  }
  await saveSafetensors(file, sd, {
    format: 'clap-ts-train-checkpoint',
    state: JSON.stringify(d.state),
    optimizer_step: String(d.optimizer.step),
  });
}

export async function loadCheckpoint<S>(file: string): Promise<CheckpointData<S>> {
  const ck = await loadSafetensorsCheckpoint(file);
  const meta = ck.metadata as Record<string, string>;
  if (meta.format !== 'clap-ts-train-checkpoint' || meta.state === undefined)
    throw new ClapError('not a clap-ts training checkpoint', { subject: file });
  const params: Record<string, HostTensor> = {};
  const slots: OptimizerState['slots'] = {};
  for (const [k, t] of ck.tensors) {
    if (k.startsWith(PARAM)) params[k.slice(PARAM.length)] = t;
    else if (k.startsWith(SLOT)) {
      const rest = k.slice(SLOT.length);
      const i = rest.indexOf('/');
      const slot = rest.slice(0, i);
      const p = rest.slice(i + 1);
      (slots[p] ??= {})[slot] = t;
    }
  }
  return { params, optimizer: { step: Number(meta.optimizer_step), slots }, state: JSON.parse(meta.state) as S };
}
