/**
 * The `config` a model is loaded with: a preset name, a config.json path, a config object, or (when none is
 * given) a config.json beside the weights file that describes a model, as `clap train` writes one.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ClapError } from '../errors.js';
import { CLAP_PRESET_NAMES, CLAP_PRESETS, type ClapConfig, clapConfigFromJson } from '../models/clap/index.js';
import type { StateDict } from '../weights/index.js';

/** The explicit config for `weights`, or undefined (sizes are then read off the weights). */
export function resolveConfigArg(config: string | ClapConfig | undefined, weights?: string | StateDict): ClapConfig | undefined {
  const arg = config ?? (weights === undefined ? undefined : siblingConfig(weights));
  if (arg === undefined || typeof arg === 'object') return arg;
  const preset = CLAP_PRESETS[arg];
  if (preset) return { ...preset };
  let text: string;
  try {
    text = readFileSync(arg, 'utf8');
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new ClapError(`not a preset (${CLAP_PRESET_NAMES}) nor a readable config file (${why})`, { subject: arg });
  }
  try {
    return clapConfigFromJson(JSON.parse(text) as Record<string, unknown>);
  } catch (e) {
    throw new ClapError(e instanceof ClapError ? e.message : `not valid JSON (${(e as Error).message})`, { subject: arg });
  }
}

/** A `config.json` beside the weights file, if it has a model section (`htsat` or `text_encoder`). */
function siblingConfig(weights: string | StateDict): string | undefined {
  if (typeof weights !== 'string') return undefined;
  const candidate = join(dirname(weights), 'config.json');
  try {
    const json = JSON.parse(readFileSync(candidate, 'utf8')) as Record<string, unknown>;
    return json && typeof json === 'object' && ('htsat' in json || 'text_encoder' in json) ? candidate : undefined;
  } catch {
    return undefined;
  }
}
