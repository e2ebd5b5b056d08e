/**
 * What both systems serve and call: one action taking a small object and answering a small
 * object, validated on the serving side by each system's own validator.
 */
export const serviceName = 'bench';
export const actionName = 'echo';

export interface EchoParams {
  a: number;
  b: string;
}

export interface EchoResult {
  a: number;
  b: string;
  ok: true;
}

export const echoParams: EchoParams = { a: 1, b: 'hello' };

export function echo(params: EchoParams): EchoResult {
  return { a: params.a, b: params.b, ok: true };
}
