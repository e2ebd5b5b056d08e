import { portOption } from '../args.ts';

/** The port base when --port was given; undefined lets the cluster directory decide. */
export function explicitPort(value: string | undefined): number | undefined {
  return value === undefined ? undefined : portOption(value);
}
