/**
 * The starter project `shoal init` writes. Its files live in init-template/ as `<path>.template`
 * (copied into dist/ by the build): they import 'shoal', which resolves only in a project that
 * has the package installed, so this repository neither compiles nor lints them; the package
 * test type-checks and runs them in such a project.
 */
import { readFile } from 'node:fs/promises';

/** Paths relative to the project directory. `shoal init` writes none of them over an existing file. */
export const starterPaths: readonly string[] = ['shoal.config.ts', 'services/tasks.ts', 'test/tasks.test.ts', 'tsconfig.json'];

const templates = new URL('./init-template/', import.meta.url);

/** The text of each starter file, by path. */
export async function starterFiles(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const path of starterPaths) files.set(path, await readFile(new URL(`${path}.template`, templates), 'utf8'));
  return files;
}

/** Scripts `shoal init` adds to package.json, where the name is free. */
export const starterScripts: Readonly<Record<string, string>> = {
  start: 'shoal up',
  test: 'node --test "test/**/*.test.ts"',
  typecheck: 'tsc --noEmit',
};

/** What the starter's typecheck and test need, added to devDependencies where absent. */
export const starterDevDependencies: Readonly<Record<string, string>> = {
  typescript: '^5.9.0',
  '@types/node': '^24.0.0',
};

/** Lines `shoal init` makes sure .gitignore has. */
export const starterIgnores: readonly string[] = ['node_modules/', '.shoal/'];
