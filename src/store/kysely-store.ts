import type { Kysely } from 'kysely';
import { KyselyAdminLists } from './kysely/admin-lists.js';
import { KyselyAudienceSync } from './kysely/audience-sync.js';
import { KyselyAudiences } from './kysely/audiences.js';
import { KyselyChannels } from './kysely/channels.js';
import { KyselyConversionPaths } from './kysely/conversion-paths.js';
import { KyselyDefinitions } from './kysely/definitions.js';
import { KyselyHoldouts } from './kysely/holdouts.js';
import type { TouchWriter } from './kysely/ingest.js';
import { KyselyIngest } from './kysely/ingest.js';
import type { DirectRun } from './kysely/ingest-statements.js';
import { KyselyJourneys } from './kysely/journeys.js';
import { KyselyMaintenance, type WalControl } from './kysely/maintenance.js';
import { KyselyMemberships } from './kysely/memberships.js';
import { KyselyOutbox } from './kysely/outbox.js';
import { KyselyPersonPages } from './kysely/person-pages.js';
import { KyselyPostbacks } from './kysely/postbacks.js';
import type { PreparedTexts } from './kysely/prepared-statements.js';
import { KyselyReports } from './kysely/reports.js';
import { KyselySubjects } from './kysely/subjects.js';
import type { Dialect } from './migrations.js';
import type { Database } from './schema.js';
import type { IngestTx, Store } from './store.js';

/**
 * The Store over Kysely, for SQLite and PostgreSQL: a facade over one implementation per
 * port (kysely/*), each given the same database. Every method hands its call to the part
 * that owns it; typing each as `Store['name']` keeps the facade checked against the port.
 */
export class KyselyStore implements Store {
  private readonly maintenance: KyselyMaintenance;
  private readonly ingestPart: KyselyIngest;
  private readonly outbox: KyselyOutbox;
  private readonly adminLists: KyselyAdminLists;
  private readonly definitions: KyselyDefinitions;
  private readonly subjects: KyselySubjects;
  private readonly reports: KyselyReports;
  private readonly postbacks: KyselyPostbacks;
  private readonly channels: KyselyChannels;
  private readonly paths: KyselyConversionPaths;
  private readonly audiences: KyselyAudiences;
  private readonly memberships: KyselyMemberships;
  private readonly personPages: KyselyPersonPages;
  private readonly audienceSync: KyselyAudienceSync;
  private readonly holdouts: KyselyHoldouts;
  private readonly journeys: KyselyJourneys;

  constructor(
    readonly db: Kysely<Database>,
    readonly dialect: Dialect,
    touchWriter?: TouchWriter,
    prepared?: PreparedTexts,
    direct?: DirectRun,
    /**
     * Where the long reads run (reports, counts, admin lists, paths, journeys, postback
     * counts, the lift report's): on SQLite a connection on a thread of its own
     * (sqlite/read-thread.ts); by default `db`.
     */
    readonly readDb: Kysely<Database> = db,
    /** SQLite's WAL checkpoints on a thread of their own (sqlite/wal-checkpointer.ts). */
    wal?: WalControl,
  ) {
    this.maintenance = new KyselyMaintenance(db, dialect, touchWriter, wal);
    this.ingestPart = new KyselyIngest(db, dialect, touchWriter, prepared, direct);
    this.outbox = new KyselyOutbox(db, dialect);
    this.adminLists = new KyselyAdminLists(readDb, dialect);
    this.definitions = new KyselyDefinitions(db);
    this.subjects = new KyselySubjects(db, dialect, this.maintenance, readDb);
    this.reports = new KyselyReports(db, readDb);
    this.postbacks = new KyselyPostbacks(db, readDb);
    this.channels = new KyselyChannels(db);
    this.paths = new KyselyConversionPaths(readDb, dialect);
    this.audiences = new KyselyAudiences(db);
    this.memberships = new KyselyMemberships(db, dialect);
    this.personPages = new KyselyPersonPages(db);
    this.audienceSync = new KyselyAudienceSync(db, dialect);
    this.holdouts = new KyselyHoldouts(db, readDb);
    this.journeys = new KyselyJourneys(readDb, dialect);
  }

  // KyselyMaintenance
  readonly migrate: Store['migrate'] = (...a) => this.maintenance.migrate(...a);
  readonly close: Store['close'] = (...a) => this.maintenance.close(...a);
  readonly ping: Store['ping'] = (...a) => this.maintenance.ping(...a);
  readonly purge: Store['purge'] = (...a) =>
    this.maintenance.purge(...a).finally(() => this.ingestPart.forgetTouches());
  readonly ensurePartitions: Store['ensurePartitions'] = (...a) =>
    this.maintenance.ensurePartitions(...a);
  readonly buildPartitionIndexes: Store['buildPartitionIndexes'] = (...a) =>
    this.maintenance.buildPartitionIndexes(...a);
  readonly refreshStatistics: Store['refreshStatistics'] = (...a) =>
    this.maintenance.refreshStatistics(...a);

  // KyselyIngest
  ingest<T>(fn: (tx: IngestTx) => Promise<T>): Promise<T> {
    return this.ingestPart.ingest(fn);
  }
  readonly insertTouches: Store['insertTouches'] = (...a) => this.ingestPart.insertTouches(...a);
  readonly upsertImpressionViews: Store['upsertImpressionViews'] = (...a) =>
    this.ingestPart.upsertImpressionViews(...a);
  readonly importedKeys: Store['importedKeys'] = (...a) => this.ingestPart.importedKeys(...a);
  readonly rememberImported: Store['rememberImported'] = (...a) =>
    this.ingestPart.rememberImported(...a);
  readonly eventSourcesSince: Store['eventSourcesSince'] = (...a) =>
    this.ingestPart.eventSourcesSince(...a);

  // KyselyOutbox
  readonly claimDeliveries: Store['claimDeliveries'] = (...a) => this.outbox.claimDeliveries(...a);
  readonly claimJobs: Store['claimJobs'] = (...a) => this.outbox.claimJobs(...a);
  readonly finishAttempts: Store['finishAttempts'] = (...a) => this.outbox.finishAttempts(...a);
  readonly extendLeases: Store['extendLeases'] = (...a) => this.outbox.extendLeases(...a);
  readonly leaseOwners: Store['leaseOwners'] = (...a) => this.outbox.leaseOwners(...a);
  readonly releaseLeases: Store['releaseLeases'] = (...a) => this.outbox.releaseLeases(...a);
  readonly pausedDestinations: Store['pausedDestinations'] = (...a) =>
    this.outbox.pausedDestinations(...a);
  readonly setDestinationPaused: Store['setDestinationPaused'] = (...a) =>
    this.outbox.setDestinationPaused(...a);
  readonly retryDelivery: Store['retryDelivery'] = (...a) => this.outbox.retryDelivery(...a);
  readonly requeueRange: Store['requeueRange'] = (...a) => this.outbox.requeueRange(...a);
  readonly settleDeliveries: Store['settleDeliveries'] = (...a) =>
    this.outbox.settleDeliveries(...a);

  // KyselyAdminLists
  readonly listConversions: Store['listConversions'] = (...a) =>
    this.adminLists.listConversions(...a);
  readonly listDeliveries: Store['listDeliveries'] = (...a) => this.adminLists.listDeliveries(...a);
  readonly getDelivery: Store['getDelivery'] = (...a) => this.adminLists.getDelivery(...a);
  readonly counts: Store['counts'] = (...a) => this.adminLists.counts(...a);
  readonly listTouches: Store['listTouches'] = (...a) => this.adminLists.listTouches(...a);
  readonly listEvents: Store['listEvents'] = (...a) => this.adminLists.listEvents(...a);
  readonly eventTrail: Store['eventTrail'] = (...a) => this.adminLists.eventTrail(...a);
  readonly healthCounts: Store['healthCounts'] = (...a) => this.adminLists.healthCounts(...a);

  // KyselyDefinitions
  readonly storedDestinations: Store['storedDestinations'] = (...a) =>
    this.definitions.storedDestinations(...a);
  readonly resealStoredDestination: Store['resealStoredDestination'] = (...a) =>
    this.definitions.resealStoredDestination(...a);
  readonly putStoredDestination: Store['putStoredDestination'] = (...a) =>
    this.definitions.putStoredDestination(...a);
  readonly forgetStoredDestination: Store['forgetStoredDestination'] = (...a) =>
    this.definitions.forgetStoredDestination(...a);
  readonly storedDestinationsVersion: Store['storedDestinationsVersion'] = (...a) =>
    this.definitions.storedDestinationsVersion(...a);
  readonly getTriggerRules: Store['getTriggerRules'] = (...a) =>
    this.definitions.getTriggerRules(...a);
  readonly putTriggerRules: Store['putTriggerRules'] = (...a) =>
    this.definitions.putTriggerRules(...a);
  readonly revokeSession: Store['revokeSession'] = (...a) => this.definitions.revokeSession(...a);
  readonly sessionRevoked: Store['sessionRevoked'] = (...a) =>
    this.definitions.sessionRevoked(...a);

  // KyselySubjects
  readonly findSubject: Store['findSubject'] = (...a) => this.subjects.findSubject(...a);
  // The touch cache keeps no erased person's touch in memory either.
  readonly eraseSubject: Store['eraseSubject'] = (...a) =>
    this.subjects.eraseSubject(...a).finally(() => this.ingestPart.forgetTouches());

  // KyselyReports
  readonly reportCounts: Store['reportCounts'] = (...a) => this.reports.reportCounts(...a);
  readonly viewabilityCounts: Store['viewabilityCounts'] = (...a) =>
    this.reports.viewabilityCounts(...a);
  readonly setCampaignCost: Store['setCampaignCost'] = (...a) => this.reports.setCampaignCost(...a);
  readonly campaignCosts: Store['campaignCosts'] = (...a) => this.reports.campaignCosts(...a);
  readonly putFxRates: Store['putFxRates'] = (...a) => this.reports.putFxRates(...a);
  readonly listFxRates: Store['listFxRates'] = (...a) => this.reports.listFxRates(...a);
  readonly deleteFxRate: Store['deleteFxRate'] = (...a) => this.reports.deleteFxRate(...a);

  // KyselyPostbacks
  readonly recordPostback: Store['recordPostback'] = (...a) => this.postbacks.recordPostback(...a);
  readonly listPostbacks: Store['listPostbacks'] = (...a) => this.postbacks.listPostbacks(...a);
  readonly postbackCounts: Store['postbackCounts'] = (...a) => this.postbacks.postbackCounts(...a);
  readonly claimPostbacks: Store['claimPostbacks'] = (...a) => this.postbacks.claimPostbacks(...a);
  readonly unverifiedCounts: Store['unverifiedCounts'] = (...a) =>
    this.postbacks.unverifiedCounts(...a);

  // KyselyChannels
  readonly putCosts: Store['putCosts'] = (...a) => this.channels.putCosts(...a);
  readonly listCosts: Store['listCosts'] = (...a) => this.channels.listCosts(...a);
  readonly getChannelSettings: Store['getChannelSettings'] = (...a) =>
    this.channels.getChannelSettings(...a);
  readonly putChannelSettings: Store['putChannelSettings'] = (...a) =>
    this.channels.putChannelSettings(...a);
  readonly deleteChannelSettings: Store['deleteChannelSettings'] = (...a) =>
    this.channels.deleteChannelSettings(...a);

  // KyselyConversionPaths
  readonly listConversionPaths: Store['listConversionPaths'] = (...a) =>
    this.paths.listConversionPaths(...a);
  readonly pathTouchIds: Store['pathTouchIds'] = (...a) => this.paths.pathTouchIds(...a);
  readonly getConversionPath: Store['getConversionPath'] = (...a) =>
    this.paths.getConversionPath(...a);
  readonly conversionEvents: Store['conversionEvents'] = (...a) =>
    this.paths.conversionEvents(...a);
  readonly countConversionEvents: Store['countConversionEvents'] = (...a) =>
    this.paths.countConversionEvents(...a);

  // KyselyAudiences
  readonly createAudience: Store['createAudience'] = (...a) => this.audiences.createAudience(...a);
  readonly audiencesVersion: Store['audiencesVersion'] = (...a) =>
    this.audiences.audiencesVersion(...a);
  readonly getAudience: Store['getAudience'] = (...a) => this.audiences.getAudience(...a);
  readonly listAudiences: Store['listAudiences'] = (...a) => this.audiences.listAudiences(...a);
  readonly markAudienceRecomputed: Store['markAudienceRecomputed'] = (...a) =>
    this.audiences.markAudienceRecomputed(...a);
  readonly updateAudience: Store['updateAudience'] = (...a) => this.audiences.updateAudience(...a);
  readonly deleteAudience: Store['deleteAudience'] = (...a) => this.audiences.deleteAudience(...a);
  readonly clearMemberships: Store['clearMemberships'] = (...a) =>
    this.audiences.clearMemberships(...a);
  readonly audienceSize: Store['audienceSize'] = (...a) => this.audiences.audienceSize(...a);
  readonly recordAudienceSize: Store['recordAudienceSize'] = (...a) =>
    this.audiences.recordAudienceSize(...a);
  readonly audienceSizes: Store['audienceSizes'] = (...a) => this.audiences.audienceSizes(...a);

  // KyselyMemberships
  readonly personOf: Store['personOf'] = (...a) => this.memberships.personOf(...a);
  readonly personRecords: Store['personRecords'] = (...a) => this.memberships.personRecords(...a);
  readonly identifiersSince: Store['identifiersSince'] = (...a) =>
    this.memberships.identifiersSince(...a);
  readonly writeMemberships: Store['writeMemberships'] = (...a) =>
    this.memberships.writeMemberships(...a);
  // KyselyPersonPages
  readonly personsOf: Store['personsOf'] = (...a) => this.personPages.personsOf(...a);
  readonly peopleRecords: Store['peopleRecords'] = (...a) => this.personPages.peopleRecords(...a);
  readonly usersOf: Store['usersOf'] = (...a) => this.personPages.usersOf(...a);
  readonly upsertMemberships: Store['upsertMemberships'] = (...a) =>
    this.memberships.upsertMemberships(...a);
  readonly deleteMemberships: Store['deleteMemberships'] = (...a) =>
    this.memberships.deleteMemberships(...a);
  readonly getMembership: Store['getMembership'] = (...a) => this.memberships.getMembership(...a);
  readonly membershipsDue: Store['membershipsDue'] = (...a) =>
    this.memberships.membershipsDue(...a);
  readonly audienceMembers: Store['audienceMembers'] = (...a) =>
    this.memberships.audienceMembers(...a);

  // KyselyAudienceSync
  readonly syncedPersons: Store['syncedPersons'] = (...a) => this.audienceSync.syncedPersons(...a);
  readonly enqueueAudienceSync: Store['enqueueAudienceSync'] = (...a) =>
    this.audienceSync.enqueueAudienceSync(...a);
  readonly listAudienceJobs: Store['listAudienceJobs'] = (...a) =>
    this.audienceSync.listAudienceJobs(...a);
  readonly putSchedules: Store['putSchedules'] = (...a) => this.audienceSync.putSchedules(...a);
  readonly listSchedules: Store['listSchedules'] = (...a) => this.audienceSync.listSchedules(...a);
  readonly claimDueSchedules: Store['claimDueSchedules'] = (...a) =>
    this.audienceSync.claimDueSchedules(...a);

  // KyselyHoldouts
  readonly holdoutsVersion: Store['holdoutsVersion'] = (...a) =>
    this.holdouts.holdoutsVersion(...a);
  readonly createHoldout: Store['createHoldout'] = (...a) => this.holdouts.createHoldout(...a);
  readonly getHoldout: Store['getHoldout'] = (...a) => this.holdouts.getHoldout(...a);
  readonly listHoldouts: Store['listHoldouts'] = (...a) => this.holdouts.listHoldouts(...a);
  readonly holdoutOfSubject: Store['holdoutOfSubject'] = (...a) =>
    this.holdouts.holdoutOfSubject(...a);
  readonly updateHoldout: Store['updateHoldout'] = (...a) => this.holdouts.updateHoldout(...a);
  readonly deleteHoldout: Store['deleteHoldout'] = (...a) => this.holdouts.deleteHoldout(...a);
  readonly recordHoldoutEntries: Store['recordHoldoutEntries'] = (...a) =>
    this.holdouts.recordHoldoutEntries(...a);
  readonly holdoutEntries: Store['holdoutEntries'] = (...a) => this.holdouts.holdoutEntries(...a);
  readonly holdoutEntriesOf: Store['holdoutEntriesOf'] = (...a) =>
    this.holdouts.holdoutEntriesOf(...a);
  readonly userLinks: Store['userLinks'] = (...a) => this.holdouts.userLinks(...a);
  readonly liftEvents: Store['liftEvents'] = (...a) => this.holdouts.liftEvents(...a);

  // KyselyJourneys
  readonly estimateJourneyTouches: Store['estimateJourneyTouches'] = (...a) =>
    this.journeys.estimateJourneyTouches(...a);
  readonly journeyTouches: Store['journeyTouches'] = (...a) => this.journeys.journeyTouches(...a);
}
