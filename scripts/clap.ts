/** The `clap` CLI run from the TypeScript sources (scripts use it so they need no `npm run build`). */
import { main } from '../src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
