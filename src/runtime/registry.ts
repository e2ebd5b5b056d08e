import type { Endpoint } from '../balance/index.ts';
import type { MemberRecord, ServiceDescriptor } from '../control/index.ts';
import type { PeerAddress } from '../transport/index.ts';
import { serviceKey } from '../core/index.ts';

/** A node that offers a service, as a balancer endpoint. */
export interface ServiceEndpoint extends Endpoint {
  /** Node id. */
  id: string;
  address?: PeerAddress;
  local: boolean;
  descriptor: ServiceDescriptor;
}

interface MemberState {
  record: MemberRecord;
  /**
   * Set when the transport lost this member; cleared when it registers anew, or after a hold
   * longer than the membership lease (a dead member is gone from the list by then, so a member
   * still listed only had a broken connection).
   */
  down: boolean;
}

const downHoldMs = 5_000;
const noEndpoints: readonly ServiceEndpoint[] = Object.freeze([]);

/**
 * Who offers what, from the membership list plus what the transport has seen die. A member
 * whose connection dropped leaves routing at once, without waiting for its lease to expire;
 * it comes back when it registers again.
 */
export class ServiceRegistry {
  private readonly localNodeId: string;
  private members = new Map<string, MemberState>();
  private byService = new Map<string, ServiceEndpoint[]>();
  /** The same lists by name, then version: a call looks its service up without building a key string. */
  private byNameVersion = new Map<string, Map<number, ServiceEndpoint[]>>();
  private subscribers = new Map<string, Array<{ service: string; version: number; endpoints: ServiceEndpoint[] }>>();
  private readonly changeListeners: Array<() => void> = [];

  constructor(localNodeId: string) {
    this.localNodeId = localNodeId;
  }

  /** Replaces the member list (from a membership watch). */
  setMembers(records: readonly MemberRecord[]): void {
    const next = new Map<string, MemberState>();
    for (const record of records) {
      const previous = this.members.get(record.id);
      const unchanged = previous !== undefined && sameIncarnation(previous.record, record);
      next.set(record.id, { record, down: unchanged ? previous.down : false });
    }
    this.members = next;
    this.rebuild();
  }

  /** The transport lost the connection to this address: stop routing there until it rejoins. */
  markAddressDown(address: PeerAddress): void {
    let changed = false;
    for (const state of this.members.values()) {
      const a = state.record.address;
      if (a && a.host === address.host && a.port === address.port && !state.down && state.record.id !== this.localNodeId) {
        state.down = true;
        changed = true;
        const record = state.record;
        setTimeout(() => {
          const current = this.members.get(record.id);
          if (current?.down && current.record === record) {
            current.down = false;
            this.rebuild();
          }
        }, downHoldMs).unref();
      }
    }
    if (changed) this.rebuild();
  }

  endpoints(service: string, version: number): readonly ServiceEndpoint[] {
    return this.byNameVersion.get(service)?.get(version) ?? noEndpoints;
  }

  /** Every version of a service that some live member offers. */
  versionsOf(service: string): number[] {
    const versions = new Set<number>();
    for (const key of this.byService.keys()) {
      const at = key.lastIndexOf('@');
      if (key.slice(0, at) === service) versions.add(Number(key.slice(at + 1)));
    }
    return [...versions].sort((a, b) => a - b);
  }

  /** Services (name and version) that handle an event, each with its live endpoints. */
  subscribersOf(event: string): ReadonlyArray<{ service: string; version: number; endpoints: ServiceEndpoint[] }> {
    return this.subscribers.get(event) ?? [];
  }

  liveMembers(): MemberRecord[] {
    return [...this.members.values()].filter((m) => !m.down).map((m) => m.record);
  }

  descriptors(): ServiceDescriptor[] {
    return [...this.byService.values()].map((endpoints) => endpoints[0].descriptor);
  }

  onChange(listener: () => void): void {
    this.changeListeners.push(listener);
  }

  private rebuild(): void {
    const byService = new Map<string, ServiceEndpoint[]>();
    const subscribers = new Map<string, Map<string, { service: string; version: number; endpoints: ServiceEndpoint[] }>>();
    const ordered = [...this.members.values()].sort((a, b) => (a.record.id < b.record.id ? -1 : 1));
    for (const { record, down } of ordered) {
      if (down || record.health === 'draining') continue;
      for (const descriptor of record.services ?? []) {
        const key = serviceKey(descriptor.name, descriptor.version);
        const endpoint: ServiceEndpoint = {
          id: record.id,
          address: record.address,
          local: record.id === this.localNodeId,
          descriptor,
        };
        let list = byService.get(key);
        if (!list) byService.set(key, (list = []));
        list.push(endpoint);
        for (const event of descriptor.events) {
          let groups = subscribers.get(event);
          if (!groups) subscribers.set(event, (groups = new Map()));
          let group = groups.get(key);
          if (!group) groups.set(key, (group = { service: descriptor.name, version: descriptor.version, endpoints: [] }));
          group.endpoints.push(endpoint);
        }
      }
    }
    const byNameVersion = new Map<string, Map<number, ServiceEndpoint[]>>();
    for (const list of byService.values()) {
      const { name, version } = list[0].descriptor;
      let versions = byNameVersion.get(name);
      if (!versions) byNameVersion.set(name, (versions = new Map()));
      versions.set(version, list);
    }
    this.byService = byService;
    this.byNameVersion = byNameVersion;
    this.subscribers = new Map([...subscribers].map(([event, groups]) => [event, [...groups.values()]]));
    for (const listener of this.changeListeners) listener();
  }
}

function sameIncarnation(a: MemberRecord, b: MemberRecord): boolean {
  return a.pid === b.pid && a.startedAt === b.startedAt;
}
