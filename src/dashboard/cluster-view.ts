import { Membership, type Coordinator, type MemberRecord } from '../control/index.ts';

export interface MemberView {
  id: string;
  role: string;
  pid: number;
  address: string;
  url: string;
  health: string;
  services: string[];
  uptimeMs: number;
}

/** Keeps the live member list for the dashboard, from the same membership watch nodes use. */
export class ClusterView {
  private members: MemberRecord[] = [];
  private readonly watch: { close(): void };
  private readonly membership: Membership;

  constructor(coordinator: Coordinator) {
    this.membership = new Membership(coordinator);
    this.watch = this.membership.watchMembers((members) => {
      this.members = members;
    });
  }

  snapshot(): MemberView[] {
    const now = Date.now();
    return this.members.map((m) => ({
      id: m.id,
      role: m.role,
      pid: m.pid,
      address: m.address ? `${m.address.host}:${m.address.port}` : '',
      url: m.httpUrl ?? '',
      health: m.health ?? 'unknown',
      services: (m.services ?? []).map((s) => `${s.name}@${s.version}`),
      uptimeMs: now - m.startedAt,
    }));
  }

  close(): void {
    this.watch.close();
    this.membership.close();
  }
}
