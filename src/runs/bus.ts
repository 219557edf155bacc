// How what happens to runs reaches the parts that deliver it: a stored event (a direct call on this
// node, and a notification, ids only, to the others) and an accepted run (this node's sessions
// carry it from its start). The interface is where another transport would plug in.
import type { StoredEvent } from '../store/event-log.js';
import type { Notifier } from './notifier.js';

/** Stored events: what the recorder and every terminal transaction publish. */
export interface RunEventBus {
  /** `stored` is already in the log. */
  publish(userId: string, stored: StoredEvent): void;
}

/** The bus with the accepted runs too: what the run service publishes. */
export interface RunBus extends RunEventBus {
  /** A run of the user was accepted on this node (committed): its sessions carry it from its start. */
  accepted(userId: string, runId: string): void;
}

/** What this node does with what the bus carries. */
export interface BusSinks {
  deliver(userId: string, stored: StoredEvent): void;
  accepted(userId: string, runId: string): void;
}

/** Delivers to this node's sinks at once and tells the other nodes (if any) of events through the notifier. */
export class NodeRunEventBus implements RunBus {
  constructor(
    private readonly sinks: BusSinks,
    private readonly notifier: Notifier,
  ) {}

  publish(userId: string, stored: StoredEvent): void {
    this.sinks.deliver(userId, stored);
    this.notifier.publishEvent(userId, stored.event.runId, stored.event.seq);
  }

  accepted(userId: string, runId: string): void {
    this.sinks.accepted(userId, runId);
  }
}
