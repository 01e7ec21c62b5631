/**
 * File extensions treated as audio when walking folders (indexing, evaluation datasets): the formats decoded
 * natively and those handed to ffmpeg. Decoding goes by content, not by name; this list only picks files.
 */
export const AUDIO_EXTENSIONS: ReadonlySet<string> = new Set([
  '.wav',
  '.wave',
  '.flac',
  '.mp3',
  '.mp2',
  '.ogg',
  '.oga',
  '.opus',
  '.au',
  '.snd',
  '.m4a',
  '.mp4',
  '.aac',
  '.aif',
  '.aiff',
  '.aifc',
  '.caf',
  '.webm',
  '.mka',
  '.wma',
  '.amr',
  '.wv',
  '.ape',
  '.spx',
]);

/** Whether a file name has one of the audio extensions (case-insensitive). */
export function hasAudioExtension(name: string): boolean {
  const dot = name.lastIndexOf('.');
  return dot >= 0 && AUDIO_EXTENSIONS.has(name.slice(dot).toLowerCase());
}
