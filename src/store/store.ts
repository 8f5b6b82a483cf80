import type { AdminListsPort } from './ports/admin.js';
import type { AudienceStore } from './ports/audiences.js';
import type { ChannelsPort } from './ports/channels.js';
import type { DefinitionsPort } from './ports/definitions.js';
import type { HoldoutsPort } from './ports/holdouts.js';
import type { IngestPort } from './ports/ingest.js';
import type { JourneysPort } from './ports/journeys.js';
import type { MaintenancePort } from './ports/maintenance.js';
import type { OutboxPort } from './ports/outbox.js';
import type { PostbacksPort } from './ports/postbacks.js';
import type { ReportsPort } from './ports/reports.js';
import type { SubjectsPort } from './ports/subjects.js';

// The storage port (DESIGN §2) is the sum of the ports in ports/, one per kind of caller;
// this file only gathers them (and the records they speak in) so importers need one path.
export * from './audience-records.js';
export type { AdminListsPort } from './ports/admin.js';
export type { AudienceStore } from './ports/audiences.js';
export type { ChannelsPort, CostLine, StoredChannelSettings } from './ports/channels.js';
export type { DefinitionsPort } from './ports/definitions.js';
export type { HoldoutsPort, LiftEventRow, UserLink } from './ports/holdouts.js';
export type { IngestPort, IngestTx, SetWiseIngest } from './ports/ingest.js';
export type { JourneysPort, TouchCursor } from './ports/journeys.js';
export type { MaintenancePort } from './ports/maintenance.js';
export type { OutboxPort } from './ports/outbox.js';
export type { PostbacksPort } from './ports/postbacks.js';
export type { ReportsPort } from './ports/reports.js';
export type { SubjectsPort } from './ports/subjects.js';
export type * from './postback-records.js';
export type * from './records.js';

/** The storage port: one implementation per database (kysely-store.ts), one contract suite. */
export interface Store
  extends MaintenancePort,
    IngestPort,
    OutboxPort,
    AdminListsPort,
    DefinitionsPort,
    SubjectsPort,
    ReportsPort,
    PostbacksPort,
    ChannelsPort,
    AudienceStore,
    HoldoutsPort,
    JourneysPort {}
