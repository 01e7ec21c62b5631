/** GPT-2's vocabulary size and its one special token (the vocabulary itself: vocab.ts, or a tokenizer.json). */

/** Number of token ids (50 000 merges + 256 bytes + `<|endoftext|>`). */
export const VOCAB_SIZE = 50257;
/** `<|endoftext|>`: GPT-2's only special token. */
export const ENDOFTEXT = '<|endoftext|>';
export const ENDOFTEXT_ID = 50256;
