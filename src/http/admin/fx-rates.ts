import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { MAX_FX_IMPORT_ROWS, parseFxCsv } from '../../domain/fx-csv.js';
import { checkFxRate, type FxRate } from '../../domain/fx-rates.js';
import { isCurrencyCode } from '../../domain/money.js';
import type { FieldError } from '../../domain/validation-error.js';
import { HttpError } from '../errors.js';
import type { Services } from '../services.js';

/**
 * A rates import of MAX_FX_IMPORT_ROWS lines of 64 bytes on average (a CSV line is about 25,
 * a JSON rate about 60): what the row cap needs (6.4 MB).
 */
export const MAX_FX_BODY_BYTES = MAX_FX_IMPORT_ROWS * 64;
const DATE = '^\\d{4}-\\d{2}-\\d{2}$';

const ListQuery = Type.Object({
  from: Type.Optional(Type.String({ description: 'currency' })),
  to: Type.Optional(Type.String({ description: 'currency' })),
  since: Type.Optional(Type.String({ pattern: DATE })),
  until: Type.Optional(Type.String({ pattern: DATE })),
});
const RateKey = Type.Object({
  date: Type.String({ pattern: DATE }),
  from: Type.String(),
  to: Type.String(),
});

/** One rate of an import that was refused, named by its place and field. */
interface RowError extends FieldError {
  index: number;
  line?: number;
}

function unusable(message: string, errors: FieldError[]): HttpError {
  return new HttpError(400, 'invalid_request', message, errors);
}

/** The rates of a JSON body `{rates: [...]}`: the good ones, and each bad one by index. */
function jsonRates(body: unknown): { rates: FxRate[]; errors: RowError[] } {
  const list = (body as { rates?: unknown } | null)?.rates;
  if (!Array.isArray(list))
    throw unusable('the body must be {"rates": [...]} or a CSV', [
      { field: 'rates', message: 'must be a list of {date, from, to, rate}' },
    ]);
  if (list.length > MAX_FX_IMPORT_ROWS)
    throw unusable(`at most ${MAX_FX_IMPORT_ROWS} rates at once`, [
      { field: 'rates', message: `must hold at most ${MAX_FX_IMPORT_ROWS} rates` },
    ]);
  const rates: FxRate[] = [];
  const errors: RowError[] = [];
  list.forEach((raw, index) => {
    const checked = checkFxRate(raw);
    if (checked.ok) rates.push(checked.rate);
    else
      for (const e of checked.errors)
        errors.push({
          index,
          field: `rates[${index}]${e.field ? `.${e.field}` : ''}`,
          message: e.message,
        });
  });
  return { rates, errors };
}

function currencyFilter(v: string | undefined, field: string): string | undefined {
  if (v === undefined) return undefined;
  const code = v.trim().toUpperCase();
  if (!isCurrencyCode(code))
    throw unusable(`${field} must be a currency code`, [
      { field, message: 'must be an ISO 4217 currency code such as EUR' },
    ]);
  return code;
}

/**
 * `/api/fx-rates`: the exchange rates reports convert money with (dated; see
 * domain/fx-rates.ts). GET lists them with where each comes from; POST saves rates given as
 * JSON or as a CSV file (`content-type: text/csv`), keeping every good one and naming each bad
 * one (`400` when none is good); DELETE forgets a saved rate. Registered inside the reports'
 * admin-only scope.
 */
export function fxRatesApi(api: FastifyInstance, s: Services): void {
  api.addContentTypeParser('text/csv', { parseAs: 'string' }, (_req, body, done) =>
    done(null, body),
  );

  api.get<{ Querystring: Static<typeof ListQuery> }>(
    '/api/fx-rates',
    {
      schema: {
        summary: 'exchange rates in use, each with where it comes from (config or api)',
        querystring: ListQuery,
      },
    },
    async (req) => {
      const q = req.query;
      const f = {
        from: currencyFilter(q.from, 'from'),
        to: currencyFilter(q.to, 'to'),
        since: q.since,
        until: q.until,
      };
      const saved = await s.store.listFxRates(f);
      const savedKeys = new Set(saved.map((r) => `${r.from}>${r.to}@${r.date}`));
      const fromFile = s.config.fx_rates.filter(
        (r) =>
          !savedKeys.has(`${r.from}>${r.to}@${r.date}`) &&
          (!f.from || r.from === f.from) &&
          (!f.to || r.to === f.to) &&
          (!f.since || r.date >= f.since) &&
          (!f.until || r.date <= f.until),
      );
      const rates = [
        ...fromFile.map((r) => ({ ...r, source: 'config' })),
        ...saved.map((r) => ({ ...r, source: 'api' })),
      ].sort(
        (a, b) =>
          a.from.localeCompare(b.from) || a.to.localeCompare(b.to) || a.date.localeCompare(b.date),
      );
      return { rates };
    },
  );

  api.post(
    '/api/fx-rates',
    {
      schema: {
        summary:
          'save dated exchange rates, as JSON or a CSV file (text/csv); each bad one is named',
        // Not a body schema: the CSV form is read by its own parser, and each bad rate is
        // named by index while the good ones are kept.
        description:
          `JSON \`{"rates":[{date, from, to, rate}, …]}\` (at most ${MAX_FX_IMPORT_ROWS}) or a CSV ` +
          'with a `date,from,to,rate` header. Answers `{saved, errors}`; 400 when no rate is good.',
      },
      bodyLimit: MAX_FX_BODY_BYTES,
    },
    async (req) => {
      let parsed: { rates: FxRate[]; errors: RowError[] };
      if (typeof req.body === 'string') {
        const csv = parseFxCsv(req.body);
        if (!csv.ok) throw unusable('the CSV cannot be read', csv.errors);
        parsed = csv;
      } else parsed = jsonRates(req.body);
      // Nothing to save and something wrong: the request failed, say so with a 4xx. With some
      // good rates the batch is kept (nothing valid is dropped) and the bad ones are named.
      if (parsed.rates.length === 0 && parsed.errors.length > 0)
        throw unusable('no rate could be saved', parsed.errors);
      await s.store.putFxRates(parsed.rates, s.nowMs());
      return { saved: parsed.rates.length, errors: parsed.errors };
    },
  );

  api.delete<{ Querystring: Static<typeof RateKey> }>(
    '/api/fx-rates',
    { schema: { summary: 'forget a saved exchange rate', querystring: RateKey } },
    async (req) => {
      const key = {
        date: req.query.date,
        from: currencyFilter(req.query.from, 'from') as string,
        to: currencyFilter(req.query.to, 'to') as string,
      };
      if (!(await s.store.deleteFxRate(key)))
        throw new HttpError(404, 'not_found', `no saved rate ${key.from}→${key.to} on ${key.date}`);
      return { deleted: key };
    },
  );
}
