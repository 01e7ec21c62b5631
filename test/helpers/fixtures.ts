import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNpy } from './npy.js';

/** `../shared/fixtures/msclap-tiny-seed1` beside the checkout; tests read it in place, never copy it. */
export const FIXTURE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'fixtures', 'msclap-tiny-seed1');
export const hasFixtures = existsSync(FIXTURE_DIR);
export const fixturePath = (...parts: string[]): string => join(FIXTURE_DIR, ...parts);

/** A float32 .npy fixture array, e.g. `fixtureF32('expected', 'audio', name, 'audio_embed.npy')`. */
export const fixtureF32 = (...parts: string[]): Float32Array => readNpy(fixturePath(...parts)).data as Float32Array;
