/** msclap resamples every input to this rate (`CLAPWrapper.py` l.219–224). */
export const MODEL_SAMPLE_RATE = 44100;

/** msclap's fixed clip: 7 s at 44.1 kHz (`duration * sample_rate`, l.233). */
export const WINDOW_SECONDS = 7;
export const WINDOW_SAMPLES = MODEL_SAMPLE_RATE * WINDOW_SECONDS; // 308700

/** Sample rates outside (0, MAX_SAMPLE_RATE] are rejected as corrupt headers. */
export const MAX_SAMPLE_RATE = 1_000_000;

/**
 * Log-mel frames of one window: 1 + ⌊WINDOW_SAMPLES / hop 320⌋ = 965 with the reference frontend's
 * centred STFT (logmel.ts `frameCount(WINDOW_SAMPLES)`, checked by its test). HTSAT resizes them to 1024.
 */
export const WINDOW_FRAMES = 965;
