/**
 * `npm run fuzz -- --minutes N`: runs the fuzz properties under test/fuzz for about N minutes in
 * total (default 5), each from a fresh seed, printing case counts and any failing seed.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const at = args.indexOf('--minutes');
const minutes = at === -1 ? 5 : Number(args[at + 1]);
if (!(minutes > 0)) {
  console.error('usage: npm run fuzz -- --minutes N   (N > 0)');
  process.exit(2);
}
const dir = fileURLToPath(new URL('.', import.meta.url));
const files = readdirSync(dir)
  .filter((name) => name.endsWith('.test.ts'))
  .map((name) => `${dir}${name}`);
console.log(`fuzzing ${files.length} files for about ${minutes} minute(s)`);
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', `--test-timeout=${Math.ceil(minutes * 60_000 * 2)}`, ...files], {
  stdio: 'inherit',
  env: { ...process.env, FUZZ_MINUTES: String(minutes) },
});
process.exit(result.status ?? 1);
