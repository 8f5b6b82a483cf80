import type { FxRate } from '../../domain/fx-rates.js';
import type { ReportCounts, ReportQuery } from '../../domain/report.js';
import type { ViewabilityCounts, ViewabilityQuery } from '../../domain/viewability-report.js';
import type { FxRateFilter } from '../records.js';

/** Report counts, campaign spend and saved exchange rates. */
export interface ReportsPort {
  /** Touches, conversions and spend of a report, added up per group (see reports/). */
  reportCounts(q: ReportQuery): Promise<ReportCounts[]>;
  /** Served, measurable and viewable impressions and view-through credits, per group (issue 24). */
  viewabilityCounts(q: ViewabilityQuery): Promise<ViewabilityCounts[]>;
  /**
   * Spreads a campaign's spend evenly over the UTC days [from_day, to_day] (Unix days),
   * replacing what those days held under any channel, typed in or imported.
   */
  setCampaignCost(
    env_id: string,
    campaign_id: string,
    from_day: number,
    to_day: number,
    cost: number,
    currency: string | null,
  ): Promise<void>;
  campaignCosts(
    env_id: string,
  ): Promise<Array<{ campaign_id: string; cost: number; days: number; currency: string | null }>>;
  /** Saves exchange rates (`/api/fx-rates`), replacing those of the same pair and day. */
  putFxRates(rates: readonly FxRate[], now_ms: number): Promise<void>;
  /** Saved exchange rates, by pair then date. */
  listFxRates(f?: FxRateFilter): Promise<FxRate[]>;
  /** Deletes one saved rate; false when there was none. */
  deleteFxRate(key: { date: string; from: string; to: string }): Promise<boolean>;
}
