// How a stored event reaches the sessions that deliver it. In one process this is a direct call;
// the interface is where a cross-process transport (PostgreSQL NOTIFY, later a bus) plugs in.
import type { StoredEvent } from '../store/event-log.js';

export interface RunEventBus {
  /** `stored` is already in the log. */
  publish(userId: string, stored: StoredEvent): void;
}

export class LocalRunEventBus implements RunEventBus {
  constructor(private readonly deliver: (userId: string, stored: StoredEvent) => void) {}

  publish(userId: string, stored: StoredEvent): void {
    this.deliver(userId, stored);
  }
}
