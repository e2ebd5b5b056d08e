#!/usr/bin/env node
// Runs the shoal CLI. Node runs the TypeScript sources directly from 22.18 on; on an older
// Node this re-runs itself with the Node the project pins in node_modules.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = join(root, 'src', 'cli', 'main.ts');

function supportsTypeScript(version) {
  const [major, minor] = version.slice(1).split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 18);
}

if (supportsTypeScript(process.version)) {
  await import(pathToFileURL(entry).href);
} else {
  const candidates = [join(root, 'node_modules', 'node', 'bin', 'node'), join(root, 'node_modules', '.bin', 'node')];
  const pinned = candidates.find((path) => existsSync(path));
  if (!pinned) {
    process.stderr.write(`shoal needs Node 22.18 or newer (this is ${process.version}); run npm install to get the pinned one\n`);
    process.exit(1);
  }
  const child = spawn(pinned, [entry, ...process.argv.slice(2)], { stdio: 'inherit' });
  // A terminal's Ctrl-C and hangup already reach the child through the process group; a
  // SIGTERM sent to this process alone is passed on.
  process.on('SIGINT', () => {});
  process.on('SIGHUP', () => {});
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  child.once('error', (err) => {
    process.stderr.write(`shoal: cannot run ${pinned}: ${err.message}\n`);
    process.exit(1);
  });
  child.once('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    }
    process.exit(code ?? 1);
  });
}
