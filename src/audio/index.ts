/**
 * The audio layer: everything from an audio file to HTSAT's log-mel input, numerically identical to
 * msclap 1.3.3 (torchaudio 0.13 loading and resampling, torchlibrosa STFT, librosa Slaney mel).
 *
 *   const { windows } = await loadAudio('clip.mp3', { channels: 'reference' });
 *   const mel = logMel(windows[0]);            // Float32Array [965][64], time-major
 */
export { MODEL_SAMPLE_RATE, WINDOW_FRAMES, WINDOW_SAMPLES, WINDOW_SECONDS } from './constants.js';
export type { AudioInput, DecodeOptions, PcmInput } from './decode.js';
export { decodeAudio, openAudio, sniffAudio } from './decode.js';
export { FORMAT_NAMES, NATIVE_FORMATS, NATIVE_FORMATS_TEXT, type NativeFormat, type SniffedFormat } from './sniff.js';
export { AUDIO_EXTENSIONS, hasAudioExtension } from './extensions.js';
export type { DecodedAudio, FrameSource } from './source.js';
export { encodeWav, type WavEncoding } from './wav.js';
export { resample, resampledLength, sincResampleKernel, type ResampleOptions } from './resample.js';
export { CHANNEL_MODES } from './signal.js';
export type { ChannelMode, Signal } from './signal.js';
export { tileToLength, windowsOf, cropOffsetFor, CROP_MODES, WINDOW_DEFAULTS } from './window.js';
export type { AudioWindow, CropMode, SlidingOptions, SlidingTail, WindowOptions } from './window.js';
export { PyRandom } from './pyrandom.js';
export { AUDIO_DEFAULTS, audioToLogMel, loadAudio, openAudioStream, synthWav } from './load.js';
export type { AudioInfo, AudioStream, AudioToLogMelOptions, LoadAudioOptions, LoadedAudio } from './load.js';
export { logMel, powerSpectrogram, frameCount, paperVariant, REFERENCE_FRONTEND, PAPER_FRONTEND, type FrontendConfig } from './logmel.js';
export { melFilterbank, type MelFilterbank, type MelFilterbankConfig } from './mel.js';
export { torchlibrosaDftWeights, periodicHann, type DftWeights, type StftAlgorithm } from './stft.js';
export { applyResizeMatrix, bicubicResizeMatrix, foldIndex, foldToImage, wav2img } from './bicubic.js';
export { MSCLAP_2022_FRONTEND, MSCLAP_2022_WINDOW } from './msclap2022.js';
export { MSCLAP_2023_WINDOW, type WindowShape } from './window.js';
export { NumpyRandomState } from './numpy-random.js';
export { loadMonoWaveform, type LoadedWaveform } from './load.js';
export {
  bilinearShrink,
  ClapFeatureExtractor,
  clapFeatureExtractorConfigFromJson,
  clapFeatureExtractorConfigToJson,
  LAION_FUSED_EXTRACTOR,
  LAION_UNFUSED_EXTRACTOR,
  type ClapExtractOptions,
  type ClapFeatureExtractorConfig,
  type ClapFeatures,
  type ClapPadding,
  type ClapTruncation,
} from './clap-feature-extractor.js';
export { hfLogMel, hfMelFilterBank, hertzToMel, melToHertz, type HfMelFilterConfig, type MelScale } from './hf-mel.js';
export type { WavReading } from './pcm.js';
