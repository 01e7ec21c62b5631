import type { Command } from '../command.js';
import { convert } from './convert.js';

/** Every `clap` subcommand, in the order `clap --help` lists them. */
export const commands: Command[] = [convert];
