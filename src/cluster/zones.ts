/**
 * Zones: named failure domains (a rack, a room, a cloud availability zone) that nodes belong
 * to. A local cluster spreads its nodes over them round-robin so that placement and fault
 * tests have zones to work with on one machine.
 */

/** Lowercase letters, digits and dashes, like a DNS label, so a zone name is safe in keys, URLs and logs. */
const ZONE_NAME = /^[a-z0-9-]{1,63}$/;

/** The zone name, or a RangeError saying what is wrong with it. */
export function checkZoneName(name: string): string {
  if (!ZONE_NAME.test(name)) {
    throw new RangeError(`zone name ${JSON.stringify(name)} is not valid: use 1 to 63 of a-z, 0-9 and -`);
  }
  return name;
}

/** `a,b,c` as zone names; each must be valid and appear once. */
export function parseZoneList(text: string): string[] {
  const zones = text.split(',').map((zone) => zone.trim());
  for (const zone of zones) {
    if (zone === '') throw new RangeError(`zone list ${JSON.stringify(text)} has an empty name`);
    checkZoneName(zone);
  }
  const repeated = zones.find((zone, i) => zones.indexOf(zone) !== i);
  if (repeated !== undefined) throw new RangeError(`zone ${repeated} is listed twice`);
  return zones;
}

/** Node `index` (1-based, as in node-1) goes to zone index-1 modulo the count: node-1 → a, node-2 → b, … */
export function zoneOfNode(index: number, zones: readonly string[]): string | undefined {
  if (zones.length === 0) return undefined;
  if (!Number.isInteger(index) || index < 1) throw new RangeError(`node index must be a positive integer, got ${index}`);
  return zones[(index - 1) % zones.length];
}
