/**
 * Outstanding-request counts per endpoint, fed by Strategy.onStart/onEnd and shared by the
 * load-aware strategies. Idle endpoints are dropped from the map, so it stays as small as
 * the set of endpoints with requests in flight.
 */
export class EndpointLoad {
  readonly #outstanding = new Map<string, number>();

  start(endpointId: string): void {
    this.#outstanding.set(endpointId, (this.#outstanding.get(endpointId) ?? 0) + 1);
  }

  /** Ends one request; an end without a matching start is ignored rather than going negative. */
  end(endpointId: string): void {
    const count = this.#outstanding.get(endpointId);
    if (count === undefined) return;
    if (count <= 1) this.#outstanding.delete(endpointId);
    else this.#outstanding.set(endpointId, count - 1);
  }

  outstanding(endpointId: string): number {
    return this.#outstanding.get(endpointId) ?? 0;
  }

  /** Total requests in flight across all endpoints. */
  total(): number {
    let sum = 0;
    for (const count of this.#outstanding.values()) sum += count;
    return sum;
  }
}
