import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNpy } from './npy.js';

/**
 * The golden fixture sets beside the checkout (`../shared/fixtures/<set>`). Tests read them in place and never
 * copy them; a missing or altered set fails the suite (test/fixtures.test.ts), it never skips a test.
 */
export const FIXTURES_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'fixtures');
export const FIXTURE_SETS = ['msclap-tiny-seed1', 'msclap2022-tiny-seed1', 'hfclap-tiny-seed1'] as const;

/** msclap 2023 + clapcap: the set most tests use. */
export const FIXTURE_DIR = join(FIXTURES_ROOT, 'msclap-tiny-seed1');
export const fixturePath = (...parts: string[]): string => join(FIXTURE_DIR, ...parts);

/** A float32 .npy fixture array, e.g. `fixtureF32('expected', 'audio', name, 'audio_embed.npy')`. */
export const fixtureF32 = (...parts: string[]): Float32Array => readNpy(fixturePath(...parts)).data as Float32Array;

/** The msclap 2022 and Hugging Face CLAP sets. */
export const msclap2022Path = (...parts: string[]): string => join(FIXTURES_ROOT, 'msclap2022-tiny-seed1', ...parts);
export const hfclapPath = (...parts: string[]): string => join(FIXTURES_ROOT, 'hfclap-tiny-seed1', ...parts);
