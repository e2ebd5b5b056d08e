/**
 * `shoal init [DIR]`: a starter project in DIR (default the current directory): a config, one
 * service with typed actions and an event, two collections, a tsconfig, a test, and npm
 * scripts. It never writes over a file: when one it would write exists, it names them all and
 * writes nothing.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { CliError, noMorePositionals, parseWith, type CommandSpec } from '../args.ts';
import { starterDevDependencies, starterFiles, starterIgnores, starterPaths, starterScripts } from '../init-template.ts';

export const initSpec = {
  name: 'init',
  summary: 'write a starter project (config, a service, a test, tsconfig, scripts) into DIR',
  usage: '[DIR]',
  positionals: [{ name: 'DIR', help: 'where to write it (default: the current directory)' }],
  flags: {},
  notes:
    'Writes shoal.config.ts, one service (services/tasks.ts) with typed actions, an event and collections, a test using shoal/testing, tsconfig.json, and start/test/typecheck scripts in package.json (created, or merged into the one there). Refuses, writing nothing, when any file it would write exists.',
} as const satisfies CommandSpec;

// What `npm init -y` puts in scripts.test: a placeholder, not a test the project has.
const NPM_PLACEHOLDER_TEST = 'echo "Error: no test specified" && exit 1';

type PackageJson = Record<string, unknown> & { scripts?: Record<string, string>; devDependencies?: Record<string, string> };

export async function init(argv: string[]): Promise<number> {
  const { positionals } = parseWith(initSpec, argv);
  noMorePositionals(positionals, 1);
  const dir = resolve(positionals[0] ?? '.');
  const shown = relative(process.cwd(), dir) || '.';

  const taken = starterPaths.filter((path) => existsSync(join(dir, path)));
  if (taken.length > 0) {
    const names = taken.map((path) => join(shown, path)).join(', ');
    throw new CliError(`wrote nothing: ${taken.length === 1 ? 'this file exists' : 'these files exist'} already: ${names} (move ${taken.length === 1 ? 'it' : 'them'} away, or init another directory: shoal init DIR)`);
  }
  const packagePath = join(dir, 'package.json');
  const existing = await readPackageJson(packagePath);
  const { pkg, notes } = mergePackageJson(existing ?? { name: packageNameOf(dir), version: '0.1.0', private: true });
  const files = await starterFiles();

  for (const [path, text] of files) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text, { flag: 'wx' });
  }
  await writeFile(packagePath, `${JSON.stringify(pkg, null, 2)}\n`);
  const ignoresAdded = await ensureIgnores(join(dir, '.gitignore'));

  const written = [...starterPaths, existing ? 'package.json (merged)' : 'package.json', ...(ignoresAdded ? ['.gitignore'] : [])];
  console.log(`wrote a starter project in ${shown}:\n${written.map((path) => `  ${path}`).join('\n')}`);
  for (const note of notes) console.log(`note: ${note}`);
  const hasShoal = Boolean((pkg.dependencies as Record<string, string> | undefined)?.shoal ?? (pkg.devDependencies as Record<string, string> | undefined)?.shoal);
  console.log('next:');
  if (shown !== '.') console.log(`  cd ${shown}`);
  if (!hasShoal) console.log('  npm install <path or tarball of shoal>   # this project does not depend on shoal yet');
  console.log('  npm install            # typescript and @types/node, for npm run typecheck');
  console.log('  npx shoal up           # or npm start; Ctrl-C stops it');
  console.log(`  curl -s -X POST localhost:7400/api/v1/tasks/add -H 'content-type: application/json' -d '{"title":"try shoal"}'`);
  console.log('  npm run typecheck      # your own tsc checks the project');
  console.log('  npm test               # a test cluster, and calls to the service through its gateway');
  return 0;
}

async function readPackageJson(path: string): Promise<PackageJson | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CliError(`${path} is not valid JSON (${err instanceof Error ? err.message : String(err)}); fix it and run shoal init again`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new CliError(`${path} does not hold a JSON object`);
  return parsed as PackageJson;
}

/** Adds the starter's scripts and devDependencies where their names are free; says what it left as it was. */
export function mergePackageJson(original: PackageJson): { pkg: PackageJson; notes: string[] } {
  const pkg: PackageJson = { ...original };
  const notes: string[] = [];
  // Node and tsc read the project's .ts files as ES modules only under "type": "module".
  if (pkg.type !== 'module') {
    if (pkg.type !== undefined) notes.push(`set "type" to "module" (was ${JSON.stringify(pkg.type)}): Node runs shoal.config.ts as an ES module`);
    pkg.type = 'module';
  }
  const scripts = { ...(pkg.scripts ?? {}) };
  for (const [name, command] of Object.entries(starterScripts)) {
    const current = scripts[name];
    if (current === undefined || (name === 'test' && current === NPM_PLACEHOLDER_TEST)) scripts[name] = command;
    else if (current !== command) notes.push(`kept your scripts.${name} ("${current}"); the starter's would be "${command}"`);
  }
  pkg.scripts = scripts;
  const devDependencies = { ...(pkg.devDependencies ?? {}) };
  const dependencies = (pkg.dependencies ?? {}) as Record<string, string>;
  for (const [name, range] of Object.entries(starterDevDependencies)) {
    if (devDependencies[name] === undefined && dependencies[name] === undefined) devDependencies[name] = range;
  }
  pkg.devDependencies = devDependencies;
  return { pkg, notes };
}

/** An npm package name from the directory's name. */
function packageNameOf(dir: string): string {
  const name = dir.split(/[\\/]/).pop() ?? '';
  const cleaned = name.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[._-]+/, '');
  return cleaned === '' ? 'shoal-app' : cleaned.slice(0, 214);
}

/** Appends the lines .gitignore lacks; false when it had them all. */
async function ensureIgnores(path: string): Promise<boolean> {
  let text = '';
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const present = new Set(text.split(/\r?\n/).map((line) => line.trim()));
  const missing = starterIgnores.filter((line) => !present.has(line) && !present.has(line.replace(/\/$/, '')));
  if (missing.length === 0) return false;
  const separator = text === '' || text.endsWith('\n') ? '' : '\n';
  await writeFile(path, `${text}${separator}${missing.join('\n')}\n`);
  return true;
}
