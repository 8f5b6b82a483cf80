// Audience exports in each platform's documented format:
// - Meta Custom Audience users: POST (add) / DELETE (remove) /{version}/{audience_id}/users,
//   payload {schema, data}, at most 10 000 rows a request:
//   https://developers.facebook.com/docs/marketing-api/reference/custom-audience/users
// - TikTok segment mapping: POST /open_api/v1.3/segment/mapping/ with advertiser_ids,
//   action add|delete, id_schema and batch_data (one inner list per person):
//   https://business-api.tiktok.com/portal/docs?id=1739940585975809
// - Google Customer Match through the Data Manager API (OfflineUserDataJobService is closed
//   to Customer Match since 2026-04-01): POST /v1/audienceMembers:ingest and :remove, at most
//   10 000 members a request:
//   https://developers.google.com/data-manager/api/reference/rest/v1/audienceMembers/ingest
import type { OutgoingRequest } from '../delivery/destinations/adapter.js';
import type { ExportIds } from '../store/store.js';

/** The platforms an audience can be synced to, by destination type. */
export type ExportPlatform = 'meta' | 'tiktok' | 'google_ads';
export const EXPORT_PLATFORMS: readonly ExportPlatform[] = ['meta', 'tiktok', 'google_ads'];

/** Rows per request: Meta and Google document 10 000; TikTok's mapping is kept smaller. */
export const MAX_ROWS: Record<ExportPlatform, number> = {
  meta: 10_000,
  tiktok: 1_000,
  google_ads: 10_000,
};

const DEFAULT_BASE: Record<ExportPlatform, string> = {
  meta: 'https://graph.facebook.com',
  tiktok: 'https://business-api.tiktok.com',
  google_ads: 'https://datamanager.googleapis.com',
};
const DEFAULT_META_VERSION = 'v21.0';

/** Where and how to reach the platform, from the destination's config. */
export interface ExportTarget {
  platform: ExportPlatform;
  base_url: string | null;
  access_token: string;
  /** Meta custom audience id, TikTok audience (segment) id, Google user list id. */
  platform_audience_id: string;
  /** TikTok advertiser id; Google Ads customer id (operating account). */
  account_id: string | null;
  api_version?: string;
}

/** A person is sendable when the platform can match one of its identifiers. */
export function sendable(platform: ExportPlatform, ids: ExportIds): boolean {
  if (platform === 'meta') return true; // EXTERN_ID is always present
  if (platform === 'tiktok') return !!(ids.email_sha256 || ids.phone_e164_sha256);
  return !!(ids.email_sha256 || ids.phone_e164_sha256);
}

/**
 * Persons whose ids go in one request together: TikTok pairs each id with the schema at its
 * position, so a request carries persons with the same ids; Meta and Google take any mix.
 */
export function batchKey(platform: ExportPlatform, ids: ExportIds): string {
  if (platform !== 'tiktok') return '';
  return [
    ids.email_sha256 ? 'EMAIL_SHA256' : '',
    ids.phone_e164_sha256 ? 'PHONE_SHA256' : '',
  ].join();
}

/** Splits persons into batches of one request each (sendable ones only, at most MAX_ROWS). */
export function requestBatches<T extends { ids: ExportIds }>(
  platform: ExportPlatform,
  persons: readonly T[],
): T[][] {
  const groups = new Map<string, T[]>();
  for (const p of persons) {
    if (!sendable(platform, p.ids)) continue;
    const key = batchKey(platform, p.ids);
    groups.set(key, [...(groups.get(key) ?? []), p]);
  }
  const out: T[][] = [];
  for (const g of groups.values())
    for (let i = 0; i < g.length; i += MAX_ROWS[platform])
      out.push(g.slice(i, i + MAX_ROWS[platform]));
  return out;
}

const META_SCHEMA = ['EMAIL_SHA256', 'PHONE_SHA256', 'EXTERN_ID'];

function meta(t: ExportTarget, action: 'add' | 'remove', rows: readonly ExportIds[]) {
  const base = t.base_url ?? DEFAULT_BASE.meta;
  const version = t.api_version ?? DEFAULT_META_VERSION;
  // Multi-key rows: an unknown key is sent as an empty string, in schema order.
  const body = {
    payload: {
      schema: META_SCHEMA,
      data: rows.map((r) => [r.email_sha256 ?? '', r.phone_sha256 ?? '', r.extern_id_sha256]),
    },
    access_token: t.access_token,
  };
  return {
    url: `${base}/${version}/${encodeURIComponent(t.platform_audience_id)}/users`,
    method: action === 'add' ? 'POST' : 'DELETE',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  } satisfies OutgoingRequest;
}

/** TikTok pairs every id with the schema at its position, so rows are grouped by the ids they have. */
function tiktok(t: ExportTarget, action: 'add' | 'remove', rows: readonly ExportIds[]) {
  const base = t.base_url ?? DEFAULT_BASE.tiktok;
  const groups = new Map<
    string,
    { schema: string[]; batch: Array<Array<{ id: string; audience_ids: string[] }>> }
  >();
  for (const r of rows) {
    const schema: string[] = [];
    const entry: Array<{ id: string; audience_ids: string[] }> = [];
    if (r.email_sha256) {
      schema.push('EMAIL_SHA256');
      entry.push({ id: r.email_sha256, audience_ids: [t.platform_audience_id] });
    }
    if (r.phone_e164_sha256) {
      schema.push('PHONE_SHA256');
      entry.push({ id: r.phone_e164_sha256, audience_ids: [t.platform_audience_id] });
    }
    if (schema.length === 0) continue;
    const g = groups.get(schema.join()) ?? { schema, batch: [] };
    g.batch.push(entry);
    groups.set(schema.join(), g);
  }
  return [...groups.values()].map(
    (g): OutgoingRequest => ({
      url: `${base}/open_api/v1.3/segment/mapping/`,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'Access-Token': t.access_token },
      body: JSON.stringify({
        advertiser_ids: [t.account_id ?? ''],
        action: action === 'add' ? 'add' : 'delete',
        id_schema: g.schema,
        batch_data: g.batch,
      }),
    }),
  );
}

function google(t: ExportTarget, action: 'add' | 'remove', rows: readonly ExportIds[]) {
  const base = t.base_url ?? DEFAULT_BASE.google_ads;
  const members = rows
    .map((r) => {
      const userIdentifiers: Array<Record<string, string>> = [];
      if (r.email_sha256) userIdentifiers.push({ emailAddress: r.email_sha256 });
      if (r.phone_e164_sha256) userIdentifiers.push({ phoneNumber: r.phone_e164_sha256 });
      return { userData: { userIdentifiers } };
    })
    .filter((m) => m.userData.userIdentifiers.length > 0);
  const body: Record<string, unknown> = {
    destinations: [
      {
        operatingAccount: {
          accountType: 'GOOGLE_ADS',
          accountId: (t.account_id ?? '').replace(/-/g, ''),
        },
        productDestinationId: t.platform_audience_id,
      },
    ],
    audienceMembers: members,
    encoding: 'HEX',
  };
  if (action === 'add') body.termsOfService = { customerMatchTermsOfServiceStatus: 'ACCEPTED' };
  return {
    url: `${base}/v1/audienceMembers:${action === 'add' ? 'ingest' : 'remove'}`,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${t.access_token}` },
    body: JSON.stringify(body),
  } as OutgoingRequest;
}

/** The requests that add or remove these persons (at most MAX_ROWS of them) on the platform. */
export function exportRequests(
  t: ExportTarget,
  action: 'add' | 'remove',
  rows: readonly ExportIds[],
): OutgoingRequest[] {
  const ok = rows.filter((r) => sendable(t.platform, r));
  if (ok.length === 0) return [];
  if (t.platform === 'meta') return [meta(t, action, ok)];
  if (t.platform === 'tiktok') return tiktok(t, action, ok);
  return [google(t, action, ok)];
}

const CSV_HEADER = 'extern_id_sha256,email_sha256,phone_sha256,phone_e164_sha256\n';
/**
 * Lines per piece of a streamed CSV. The whole file of 26,000 members made in one string and
 * written at once held the event loop 54-137 ms; a piece of 1,000 lines is about 70 KB.
 */
const CSV_PIECE_ROWS = 1_000;

const csvLine = (r: ExportIds) =>
  `${r.extern_id_sha256},${r.email_sha256 ?? ''},${r.phone_sha256 ?? ''},${r.phone_e164_sha256 ?? ''}\n`;

/**
 * CSV of hashed identifiers, one person a line (nothing in it is readable as is), in pieces
 * of CSV_PIECE_ROWS lines to stream: each is made when it is read.
 */
export function* exportCsvPieces(rows: readonly ExportIds[]): Generator<string> {
  yield CSV_HEADER;
  for (let i = 0; i < rows.length; i += CSV_PIECE_ROWS)
    yield rows
      .slice(i, i + CSV_PIECE_ROWS)
      .map(csvLine)
      .join('');
}
