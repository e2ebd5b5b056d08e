/**
 * Entry point of `npm run bench -- SUITE`: runs one suite (bench/<suite>/index.ts), which prints
 * its table and writes bench/results/<suite>.json.
 */
import { suites } from './suites.ts';

const name = process.argv[2];
const known = Object.keys(suites).sort().join(', ');

if (!name || !Object.hasOwn(suites, name)) {
  console.error(name ? `unknown bench suite ${JSON.stringify(name)}; known suites: ${known}` : `usage: npm run bench -- SUITE (known suites: ${known})`);
  process.exit(2);
}

try {
  const suite = await suites[name]();
  await suite.run();
  process.exit(0);
} catch (err) {
  console.error(`bench ${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
}
