/**
 * msclap 2022's audio input (`configs/config_2022.yml` + `models/audio.py` Cnn14): 5 s windows at
 * 44.1 kHz, cut and tiled as for 2023, and torchlibrosa's log-mel with the yaml's parameters at the
 * audio's true rate — unlike 2023's HTSAT, Cnn14 really uses the yaml (fmin 50, fmax 14000, 64 mels,
 * window 1024, hop 320; the yaml's `n_fft: 1028` is never read).
 */
import { MODEL_SAMPLE_RATE } from './constants.js';
import { type FrontendConfig, REFERENCE_FRONTEND } from './logmel.js';
import type { WindowShape } from './window.js';

/** 5 s at 44.1 kHz (`duration: 5`). */
export const MSCLAP_2022_WINDOW: Readonly<WindowShape> = Object.freeze({ sampleRate: MODEL_SAMPLE_RATE, samples: 5 * MODEL_SAMPLE_RATE });

/** Cnn14's Spectrogram + LogmelFilterBank: 2023's settings with the filterbank designed at 44.1 kHz. */
export const MSCLAP_2022_FRONTEND: Readonly<FrontendConfig> = Object.freeze({ ...REFERENCE_FRONTEND, sampleRate: MODEL_SAMPLE_RATE });
