#!/usr/bin/env node
// Runs the shoal CLI. An installed package runs its built JavaScript (dist/); a checkout of the
// repository runs its TypeScript sources. Either way Node must be 22.18 or newer: the runtime
// uses node:sqlite, and an application's shoal.config.ts is TypeScript that Node runs directly.
// On an older Node this re-runs itself on a Node pinned in node_modules (the repository pins
// one as a devDependency; a project may too), and otherwise says which Node to get.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const sources = join(root, 'src', 'cli', 'main.ts');
const built = join(root, 'dist', 'cli', 'main.js');
// Set on the re-run, so a pinned Node that is itself too old cannot start a loop.
const RERUN_ENV = 'SHOAL_BIN_RERUN';

/**
 * The built CLI when this is an installed package; the sources in a checkout. A checkout that
 * a project installed by path (a symlink in its node_modules) runs the build too: the project's
 * config imports 'shoal', which resolves to dist/, and a config and the runtime that loads it
 * must share one copy of the modules (ShoalError is checked with instanceof).
 */
function cliEntry() {
  const invokedFromNodeModules = (process.argv[1] ?? '').includes(`${sep}node_modules${sep}`);
  if (existsSync(built) && (!existsSync(sources) || invokedFromNodeModules)) return built;
  if (existsSync(sources)) return sources;
  return undefined;
}

function nodeSupported(version) {
  const [major, minor] = version.slice(1).split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 18);
}

function requiredNode() {
  try {
    return JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).engines?.node ?? '>=22.18';
  } catch {
    return '>=22.18';
  }
}

/** A node binary in the package's own node_modules (a checkout) or in the installing project's. */
function pinnedNode() {
  const candidates = [join(root, 'node_modules', 'node', 'bin', 'node'), join(root, 'node_modules', '.bin', 'node')];
  const parent = dirname(root);
  if (parent.endsWith(`${sep}node_modules`)) candidates.push(join(parent, '.bin', 'node'));
  candidates.push(join(process.cwd(), 'node_modules', '.bin', 'node'));
  return candidates.find((path) => existsSync(path));
}

function fail(message) {
  process.stderr.write(`shoal: ${message}\n`);
  process.exit(1);
}

const entry = cliEntry();
if (entry === undefined) {
  fail(`neither ${built} nor ${sources} exists; in a checkout of the repository run npm install (it builds dist/ too)`);
}

if (nodeSupported(process.version)) {
  await import(pathToFileURL(entry).href);
} else {
  const pinned = process.env[RERUN_ENV] ? undefined : pinnedNode();
  if (!pinned) {
    process.stderr.write(
      `shoal needs Node.js ${requiredNode()} (24 LTS recommended); this is Node ${process.version} (${process.execPath}).\n` +
        `  Install one from https://nodejs.org/ or with a version manager (nvm install 24),\n` +
        `  or pin it in this project: npm install --save-dev node@24 (npx and npm scripts then use it).\n`,
    );
    process.exit(1);
  }
  const child = spawn(pinned, [entry, ...process.argv.slice(2)], { stdio: 'inherit', env: { ...process.env, [RERUN_ENV]: '1' } });
  // A terminal's Ctrl-C and hangup already reach the child through the process group; a
  // SIGTERM sent to this process alone is passed on.
  process.on('SIGINT', () => {});
  process.on('SIGHUP', () => {});
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  child.once('error', (err) => fail(`cannot run ${pinned}: ${err.message}`));
  child.once('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    }
    process.exit(code ?? 1);
  });
}
