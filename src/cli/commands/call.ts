import { clusterDir, isPidAlive, readAdminToken, readState } from '../../cluster/index.ts';
import { CliError, intOption, noMorePositionals, parseWith, portOption, UsageError, type CommandSpec } from '../args.ts';
import { adminHeaders } from '../cluster-client.ts';

/** Path segments keep `$` and dots readable; the gateway decodes whatever else is escaped. */
function segment(value: string): string {
  return encodeURIComponent(value).replace(/%24/g, '$');
}

export const callSpec = {
  name: 'call',
  summary: 'call an action through the gateway and print its answer as JSON',
  usage: "SERVICE.ACTION ['{JSON params}'] [--version N]",
  positionals: [
    { name: 'SERVICE.ACTION', help: 'e.g. links.create' },
    { name: 'JSON', help: 'the params, one JSON object (default {})' },
  ],
  flags: {
    version: { type: 'string', value: 'N', help: "the service's API version (default 1)" },
  },
  notes: 'The answering node is printed on stderr (x-shoal-node); exit code 1 when the action failed.',
} as const satisfies CommandSpec;

export async function call(argv: string[]): Promise<number> {
  const { values, positionals } = parseWith(callSpec, argv);
  noMorePositionals(positionals, 2);
  const target = positionals[0];
  if (target === undefined) throw new UsageError('call needs SERVICE.ACTION, e.g. shoal call links.create \'{"url":"https://example.com"}\'');
  const dot = target.indexOf('.');
  if (dot <= 0 || dot === target.length - 1) throw new UsageError(`"${target}" is not SERVICE.ACTION`);
  const service = target.slice(0, dot);
  const action = target.slice(dot + 1);
  const version = intOption('version', values.version, 1, 1, Number.MAX_SAFE_INTEGER);
  let params: unknown = {};
  if (positionals[1] !== undefined) {
    try {
      params = JSON.parse(positionals[1]);
    } catch (err) {
      throw new CliError(`the params argument is not valid JSON (${err instanceof Error ? err.message : String(err)}): ${positionals[1]}`, 2);
    }
  }

  const gatewayUrl = await gatewayFor(values.dir, values.port);
  // Built-in services ($data, $node) answer only the operator, who can read the cluster directory.
  const adminToken = await readAdminToken(clusterDir(values.dir).adminToken);
  const url = `${gatewayUrl}/api/v${version}/${segment(service)}/${segment(action)}`;
  let response: Response;
  try {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...adminHeaders({ adminToken }) };
    response = await fetch(url, { method: 'POST', headers, body: JSON.stringify(params) });
  } catch (err) {
    const reason = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
    throw new CliError(`cannot reach the gateway at ${gatewayUrl}: ${reason}`);
  }
  const text = await response.text();
  const node = response.headers.get('x-shoal-node');
  if (node) process.stderr.write(`x-shoal-node: ${node}\n`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new CliError(`the gateway answered ${response.status} with a body that is not JSON: ${text.slice(0, 500)}`);
  }
  process.stdout.write(JSON.stringify(body, null, 2) + '\n');
  return response.ok ? 0 : 1;
}

/** The gateway of the cluster running in DIR; otherwise the one at the port base. */
async function gatewayFor(dir: string, port: string | undefined): Promise<string> {
  if (port === undefined) {
    const state = await readState(clusterDir(dir).stateFile);
    if (state && isPidAlive(state.pid)) return state.gatewayUrl;
  }
  return `http://127.0.0.1:${portOption(port)}`;
}
