import type {
  AttemptRecord,
  ConversionRecord,
  EventFilter,
  EventTrail,
  HealthCounts,
  ListedTouch,
  ListFilter,
  OutboxRecord,
  StoreCounts,
  StoredEvent,
  TouchFilter,
} from '../records.js';

/** What the admin API and the dashboard list and count. */
export interface AdminListsPort {
  listConversions(f: ListFilter): Promise<ConversionRecord[]>;
  listDeliveries(f: ListFilter): Promise<OutboxRecord[]>;
  getDelivery(id: number): Promise<{ outbox: OutboxRecord; attempts: AttemptRecord[] } | null>;
  counts(env_id?: string): Promise<StoreCounts>;
  /** The newest events matching a filter (the debugger's list). */
  listEvents(f: EventFilter): Promise<StoredEvent[]>;
  eventTrail(pk: string): Promise<EventTrail | null>;
  /** The newest touches matching a filter, impressions with their viewability. */
  listTouches(f: TouchFilter): Promise<ListedTouch[]>;
  healthCounts(env_id: string, since_ms: number): Promise<HealthCounts>;
}
