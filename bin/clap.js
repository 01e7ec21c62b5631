#!/usr/bin/env node
import { fileURLToPath } from 'node:url';
import { cliArguments, commandLineTooLong, relaunchWithArgumentFile } from '../dist/src/cli/long-argv.js';

const args = cliArguments();
if (commandLineTooLong()) {
  process.exitCode = await relaunchWithArgumentFile(fileURLToPath(import.meta.url), args);
} else {
  const { main } = await import('../dist/src/cli/main.js');
  process.exitCode = await main(args);
}
