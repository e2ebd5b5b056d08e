/** Runs `shoal lb` with this process's arguments, as `node src/cli/main.ts lb …` would. */
import { runLb } from '../../src/cli/commands/lb.ts';

const code = await runLb(process.argv.slice(2));
process.exit(code);
