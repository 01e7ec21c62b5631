/** The model families, on their own so that browser code (zero-shot prompts, the web build) names them without the configs. */

/** The families `--family` names. */
export const CLAP_FAMILIES = ['msclap-2023', 'msclap-2022', 'hf-clap', 'msclap'] as const;
export type ClapFamily = (typeof CLAP_FAMILIES)[number];
