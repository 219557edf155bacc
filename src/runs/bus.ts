// How a stored event reaches the sessions that deliver it: a direct call on this node, and a
// notification (ids only) to the others. The interface is where another transport would plug in.
import type { StoredEvent } from '../store/event-log.js';
import type { Notifier } from './notifier.js';

export interface RunEventBus {
  /** `stored` is already in the log. */
  publish(userId: string, stored: StoredEvent): void;
}

/** Delivers to this node's sessions at once and tells the other nodes (if any) through the notifier. */
export class NodeRunEventBus implements RunEventBus {
  constructor(
    private readonly deliverLocal: (userId: string, stored: StoredEvent) => void,
    private readonly notifier: Notifier,
  ) {}

  publish(userId: string, stored: StoredEvent): void {
    this.deliverLocal(userId, stored);
    this.notifier.publishEvent(userId, stored.event.runId, stored.event.seq);
  }
}
