import type { Kysely } from 'kysely';
import type { FxRate } from '../../domain/fx-rates.js';
import type { ReportQuery } from '../../domain/report.js';
import type { ViewabilityQuery } from '../../domain/viewability-report.js';
import type { ReportsPort } from '../ports/reports.js';
import type { Database } from '../schema.js';
import type { FxRateFilter } from '../store.js';
import { deleteFxRate, listFxRates, putFxRates } from './fx-rate-queries.js';
import { campaignCosts, reportCounts, setCampaignCost } from './report-queries.js';
import { viewabilityCounts } from './viewability-report-queries.js';

/**
 * Report counts, campaign spend and exchange rates over Kysely: writes on `db`, reads on
 * `read` (on SQLite a thread of their own, so that a report over months does not hold the
 * event loop).
 */
export class KyselyReports implements ReportsPort {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly read: Kysely<Database> = db,
  ) {}

  reportCounts(q: ReportQuery) {
    return reportCounts(this.read, q);
  }

  viewabilityCounts(q: ViewabilityQuery) {
    return viewabilityCounts(this.read, q);
  }

  setCampaignCost(
    env_id: string,
    campaign_id: string,
    from_day: number,
    to_day: number,
    cost: number,
    currency: string | null,
  ) {
    return setCampaignCost(this.db, env_id, campaign_id, from_day, to_day, cost, currency);
  }

  campaignCosts(env_id: string) {
    return campaignCosts(this.read, env_id);
  }

  putFxRates(rates: readonly FxRate[], now_ms: number) {
    return putFxRates(this.db, rates, now_ms);
  }

  listFxRates(f?: FxRateFilter) {
    return listFxRates(this.read, f);
  }

  deleteFxRate(key: { date: string; from: string; to: string }) {
    return deleteFxRate(this.db, key);
  }
}
