/** Cnn14 (PANNs, msclap 2022's audio encoder, models/audio.py): config and graph. */
export { CNN14_2022, CNN14_2022_FRAMES, type Cnn14Config, inferCnn14Config } from './config.js';
export { buildCnn14, type Cnn14BuildOptions, type Cnn14Outputs } from './cnn14.js';
export { randomCnn14StateDict } from './random.js';
