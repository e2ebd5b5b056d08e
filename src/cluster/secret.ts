import { randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { ADMIN_TOKEN_ENV, MIN_ADMIN_TOKEN_LENGTH } from '../core/index.ts';

const secretPattern = /^[0-9a-f]{64}$/;

/**
 * The shared secret every process of the cluster presents to the others. It is kept across
 * restarts of the cluster so processes started earlier (and data they signed) stay valid.
 */
export async function loadOrCreateSecret(path: string): Promise<string> {
  try {
    // 'wx' fails when the file exists, so two supervisors racing cannot both write one.
    const secret = randomBytes(32).toString('hex');
    await writeFile(path, secret + '\n', { flag: 'wx', mode: 0o600 });
    return secret;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const secret = (await readFile(path, 'utf8')).trim();
  if (!secretPattern.test(secret)) {
    throw new Error(`${path} does not hold a 64-digit hex secret; delete it to have a new one generated`);
  }
  await chmod(path, 0o600);
  return secret;
}

/**
 * The cluster's admin token: SHOAL_ADMIN_TOKEN when set, else one generated into `path` (0600)
 * and kept across restarts, so the CLI on this machine can read it and nobody else can.
 */
export async function loadOrCreateAdminToken(path: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const given = env[ADMIN_TOKEN_ENV];
  if (given !== undefined && given !== '') {
    if (given.length < MIN_ADMIN_TOKEN_LENGTH || /\s/.test(given)) {
      throw new Error(`${ADMIN_TOKEN_ENV} must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters with no spaces`);
    }
    return given;
  }
  return loadOrCreateSecret(path);
}

/** The admin token the CLI presents for the cluster in a directory: SHOAL_ADMIN_TOKEN, else the directory's file. */
export async function readAdminToken(path: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const given = env[ADMIN_TOKEN_ENV];
  if (given !== undefined && given !== '') return given;
  try {
    return (await readFile(path, 'utf8')).trim() || undefined;
  } catch {
    return undefined;
  }
}
