/**
 * Random Hugging Face ClapModel audio weights with transformers' key names (tests and benchmarks at any
 * size): msclap's random HTSAT renamed to ClapAudioEncoder's layout (fused q/k/v split, no tscam head or
 * stored masks), plus the fusion parts when enabled.
 */
import type { HostTensor } from '../../engine/index.js';
import { randomHtsatStateDict } from '../htsat/index.js';
import { randomPut } from '../random.js';
import type { ClapAudioConfig } from './config.js';

const RENAMES: [RegExp, string][] = [
  [/^bn0\./, 'batch_norm.'],
  [/\.norm1\./, '.layernorm_before.'],
  [/\.norm2\./, '.layernorm_after.'],
  [/\.attn\.proj\./, '.attention.output.dense.'],
  [/\.mlp\.fc1\./, '.intermediate.dense.'],
  [/\.mlp\.fc2\./, '.output.dense.'],
  [/\.attn\.relative_position/, '.attention.self.relative_position'],
];

/** ClapAudioEncoder weights under `prefix` (`audio_model.audio_encoder.`). */
export function randomClapAudioStateDict(cfg: ClapAudioConfig, prefix: string, seed = 1): Map<string, HostTensor> {
  const sd = new Map<string, HostTensor>();
  for (const [key, t] of randomHtsatStateDict(cfg.htsat, '', { seed })) {
    if (key.startsWith('tscam_conv.') || key.endsWith('.attn_mask')) continue;
    if (key.endsWith('.attn.qkv.weight') || key.endsWith('.attn.qkv.bias')) {
      const block = key.slice(0, key.indexOf('.attn.qkv.'));
      const part = key.endsWith('weight') ? 'weight' : 'bias';
      const rows = t.shape[0] / 3;
      const per = t.data.length / 3;
      ['query', 'key', 'value'].forEach((name, i) => {
        const data = (t.data as Float32Array).slice(i * per, (i + 1) * per);
        sd.set(`${prefix}${block}.attention.self.${name}.${part}`, {
          dtype: 'float32',
          shape: part === 'weight' ? [rows, t.shape[1]] : [rows],
          data,
        });
      });
      continue;
    }
    let k = key;
    for (const [from, to] of RENAMES) k = k.replace(from, to);
    sd.set(prefix + k, t);
  }
  if (cfg.enableFusion) {
    const put = randomPut(sd, `${prefix}patch_embed.`, seed * 1000 + 900);
    const C = cfg.htsat.embedDim;
    const ps = cfg.htsat.patchSize;
    const inter = Math.floor(C / cfg.affBlockR);
    put('mel_conv2d.weight', [C, 1, ps, 3 * ps], 1 / Math.sqrt(3 * ps * ps));
    put('mel_conv2d.bias', [C], 0.02);
    const conv = (key: string, out: number, inp: number): void => {
      put(`${key}.weight`, [out, inp, 1, 1], 1 / Math.sqrt(inp));
      put(`${key}.bias`, [out], 0.02);
    };
    const bn = (key: string, n: number): void => {
      put(`${key}.weight`, [n], 0.05, 1);
      put(`${key}.bias`, [n], 0.05);
      put(`${key}.running_mean`, [n], 0.05);
      put(`${key}.running_var`, [n], 0.05, 1);
    };
    for (const att of ['local_att', 'global_att']) {
      const [c1, b1, c2, b2] = att === 'local_att' ? [0, 1, 3, 4] : [1, 2, 4, 5];
      conv(`fusion_model.${att}.${c1}`, inter, C);
      bn(`fusion_model.${att}.${b1}`, inter);
      conv(`fusion_model.${att}.${c2}`, C, inter);
      bn(`fusion_model.${att}.${b2}`, C);
    }
  }
  return sd;
}
