import type { Aedes, AedesPublishPacket, Client } from 'aedes';

type Deliver = (packet: AedesPublishPacket, done: () => void) => void;

interface Group {
  filter: string;
  members: { client: Client; qos: 0 | 1 | 2 }[];
  next: number;
  deliver: Deliver;
}

/**
 * Shared subscriptions (`$share/{group}/{filter}`, MQTT 5.0 §4.8.2), which aedes 1.x does
 * not implement: it would store the filter literally and deliver nothing. N ingest workers
 * subscribe with the same group and each message goes to exactly one of them, round robin.
 *
 * aedes still records the `$share/…` subscription for the client (so SUBACK grants it); that
 * literal filter matches no topic we allow anyone to publish. Delivery happens here, through
 * one broker-side subscription per group and filter.
 *
 * Not covered: queueing for a group whose members are all offline (the edges resend from
 * their outbox until acknowledged, so nothing is lost).
 */
export class SharedSubscriptions {
  private readonly groups = new Map<string, Group>();

  constructor(
    private readonly aedes: Aedes,
    private readonly onError: (err: Error, client: Client) => void,
  ) {}

  add(client: Client, group: string, filter: string, qos: 0 | 1 | 2): void {
    const key = `${group}\u0000${filter}`;
    let entry = this.groups.get(key);
    if (!entry) {
      const created: Group = { filter, members: [], next: 0, deliver: (packet, done) => this.deliver(created, packet, done) };
      entry = created;
      this.groups.set(key, created);
      this.aedes.subscribe(filter, created.deliver, () => undefined);
    }
    const existing = entry.members.find((m) => m.client === client);
    if (existing) existing.qos = qos;
    else entry.members.push({ client, qos });
  }

  /** Removes one membership (`$share/…` filter given) or all of a client's (none given). */
  remove(client: Client, sharedFilter?: { group: string; filter: string }): void {
    for (const [key, entry] of this.groups) {
      if (sharedFilter && key !== `${sharedFilter.group}\u0000${sharedFilter.filter}`) continue;
      entry.members = entry.members.filter((m) => m.client !== client);
      if (entry.members.length === 0) {
        this.groups.delete(key);
        this.aedes.unsubscribe(entry.filter, entry.deliver, () => undefined);
      }
    }
  }

  get size(): number {
    return this.groups.size;
  }

  private deliver(group: Group, packet: AedesPublishPacket, done: () => void): void {
    const live = group.members.filter((m) => m.client.connected && !m.client.closed);
    if (live.length > 0) {
      const member = live[group.next++ % live.length] as (typeof live)[number];
      // A fresh packet (new broker counter) so aedes' per-client de-duplication does not
      // drop it when the member also holds an ordinary subscription matching the topic.
      // MQTT 5.0 §4.8.2: delivered at the lower of the publish and the granted QoS.
      const qos = Math.min(packet.qos, member.qos) as 0 | 1 | 2;
      member.client.publish(
        { cmd: 'publish', topic: packet.topic, payload: packet.payload, qos, retain: false, dup: false },
        (err) => {
          if (err) this.onError(err, member.client);
        },
      );
    }
    // Released at once: one member's socket must not hold a shared delivery slot.
    done();
  }
}
