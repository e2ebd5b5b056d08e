import { randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';

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
