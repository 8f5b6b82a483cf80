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

/** Report counts, campaign spend and exchange rates over Kysely. */
export class KyselyReports implements ReportsPort {
  constructor(private readonly db: Kysely<Database>) {}

  reportCounts(q: ReportQuery) {
    return reportCounts(this.db, q);
  }

  viewabilityCounts(q: ViewabilityQuery) {
    return viewabilityCounts(this.db, q);
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
    return campaignCosts(this.db, env_id);
  }

  putFxRates(rates: readonly FxRate[], now_ms: number) {
    return putFxRates(this.db, rates, now_ms);
  }

  listFxRates(f?: FxRateFilter) {
    return listFxRates(this.db, f);
  }

  deleteFxRate(key: { date: string; from: string; to: string }) {
    return deleteFxRate(this.db, key);
  }
}
