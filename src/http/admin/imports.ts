import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { eventAgeLimitS } from '../../delivery/event-age.js';
import { ACTION_SOURCES, type ActionSource } from '../../domain/event.js';
import {
  errorReportCsv,
  type ImportReport,
  importConversions,
  storeImportLedger,
} from '../../ingest/conversion-import.js';
import { commit, serverConsent } from '../../ingest/ingest.js';
import { IngestRefused } from '../../ingest/ingest-pipeline.js';
import { HttpError, refusalError, replyStatus } from '../errors.js';
import type { Services } from '../services.js';

/** The largest CSV one upload may carry: some 200,000 rows of offline conversions. */
export const MAX_IMPORT_BYTES = 50 * 1024 * 1024;

const ImportQuery = Type.Object({
  env_id: Type.String({ minLength: 1, maxLength: 64 }),
  event_name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  action_source: Type.Optional(Type.Union(ACTION_SOURCES.map((s) => Type.Literal(s)))),
  /** `csv`: answer with the error report as a CSV file instead of JSON. */
  errors: Type.Optional(Type.Literal('csv')),
});
type ImportQuery = Static<typeof ImportQuery>;

/**
 * `POST /api/imports?env_id=` with a CSV body (`text/csv`): offline conversions, one a row,
 * validated one by one and ingested like server events (docs/offline-conversions.md). The
 * answer counts rows, accepted events and duplicates (rows already there: a file imported
 * again adds nothing, however long after, through the store's import ledger) and
 * names each bad row's line and field; `?errors=csv` answers the error report as a file.
 */
export function importsApi(app: FastifyInstance, s: Services): void {
  app.register(async (api) => {
    api.addContentTypeParser(
      ['text/csv', 'application/csv'],
      { parseAs: 'buffer' },
      (_req, body, done) => done(null, body),
    );
    api.post<{ Querystring: ImportQuery; Body: Buffer }>(
      '/api/imports',
      {
        schema: {
          summary:
            'import offline conversions from a CSV file (text/csv), each bad row named by line and field',
          querystring: ImportQuery,
        },
        bodyLimit: MAX_IMPORT_BYTES,
      },
      async (req, reply) => {
        const env = s.environment(req.query.env_id);
        if (!env) throw new HttpError(404, 'not_found', `no environment ${req.query.env_id}`);
        if (!Buffer.isBuffer(req.body))
          throw new HttpError(415, 'unsupported_media_type', 'send the file as text/csv', [
            { field: 'body', message: 'must be a CSV file (Content-Type: text/csv)' },
          ]);
        const source: ActionSource = req.query.action_source ?? 'physical_store';
        let report: ImportReport;
        let refused: HttpError | undefined;
        const partial: ImportReport = { rows: 0, accepted: 0, duplicates: 0, errors: [] };
        const ledger = storeImportLedger(s.store, env.id, () => s.nowMs());
        try {
          report = await importConversions(req.body, {
            envId: env.id,
            eventName: req.query.event_name ?? 'Purchase',
            actionSource: source,
            validation: {
              nowMs: s.nowMs(),
              newId: () => s.newId('gen_'),
              maxEventAgeS: (name, src) => eventAgeLimitS(env, name, src),
            },
            consent: (stated) => serverConsent(env, stated),
            record: async (events) => {
              const outcomes = await commit(s, events);
              for (const o of outcomes)
                o.status === 'accepted' ? partial.accepted++ : partial.duplicates++;
              return outcomes;
            },
            progress: (rows) => {
              partial.rows = rows;
            },
            ledger: {
              seen: async (events) => {
                const seen = await ledger.seen(events);
                partial.duplicates += seen.filter(Boolean).length;
                return seen;
              },
              remember: ledger.remember,
            },
          });
        } catch (e) {
          if (!(e instanceof IngestRefused)) throw e;
          // What went in stays; the same file sent again adds only the rest (dedup by id).
          refused = refusalError(e);
          report = partial;
        }
        if (refused) replyStatus(reply, refused);
        if (req.query.errors === 'csv')
          return reply
            .type('text/csv; charset=utf-8')
            .header('content-disposition', 'attachment; filename="import-errors.csv"')
            .send(errorReportCsv(report.errors));
        return {
          env_id: env.id,
          ...(refused ? { error: { code: refused.code, message: refused.message } } : {}),
          rows: report.rows,
          accepted: report.accepted,
          duplicates: report.duplicates,
          refused_rows: new Set(report.errors.map((e) => e.line)).size,
          errors: report.errors,
        };
      },
    );
  });
}
