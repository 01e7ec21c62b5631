/** msclap resamples every input to this rate (`CLAPWrapper.py` l.219–224). */
export const MODEL_SAMPLE_RATE = 44100;

/** msclap's fixed clip: 7 s at 44.1 kHz (`duration * sample_rate`, l.233). */
export const WINDOW_SECONDS = 7;
export const WINDOW_SAMPLES = MODEL_SAMPLE_RATE * WINDOW_SECONDS; // 308700

/** Sample rates outside (0, MAX_SAMPLE_RATE] are rejected as corrupt headers. */
export const MAX_SAMPLE_RATE = 1_000_000;
