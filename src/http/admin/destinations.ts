import { isIP } from 'node:net';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { secretFields } from '../../config/config-parse.js';
import { apiFieldErrors, destinationFromInput, MASK } from '../../config/destination-input.js';
import { urlsNotInFile } from '../../config/destination-urls.js';
import { findDestination } from '../../config/find-destination.js';
import { ADAPTERS, adapterFor } from '../../delivery/destinations/registry.js';
import {
  DEFAULT_PROBABILISTIC_WINDOW_MS,
  probabilisticWindowNotes,
} from '../../domain/attribution.js';
import type { DestinationConfig } from '../../domain/config-types.js';
import { formatDurationMs } from '../../domain/duration.js';
import { addressAllowance, addressRefusal } from '../../domain/private-address.js';
import type { FieldError } from '../../domain/validation-error.js';
import { HttpError } from '../errors.js';
import type { Services } from '../services.js';

const DestParams = Type.Object({ env_id: Type.String(), dest_id: Type.String() });
type DestParams = Static<typeof DestParams>;
const ListQuery = Type.Object({ env_id: Type.Optional(Type.String()) });
const Body = Type.Record(Type.String(), Type.Unknown());
type Body = Record<string, unknown>;
const MAX_BODY_BYTES = 64 * 1024;
const PRIVATE_ADVICE =
  'destinations made through the admin API send to public addresses only; allow this one with allow_private_destinations in the config file';

/** A destination's settings with every secret field shown as `****` (STYLE rule 15). */
export function maskedSettings(d: DestinationConfig): Record<string, unknown> {
  const adapter = adapterFor(d.type);
  const secrets = adapter ? secretFields(adapter.settingsSchema) : [];
  return Object.fromEntries(
    Object.entries(d.settings).map(([k, v]) => [k, secrets.includes(k) ? MASK : v]),
  );
}

/** How the API shows one destination: durations as written, secrets masked, its state. */
export function destinationView(
  d: DestinationConfig,
  extra: { env_id: string; source: string; paused: boolean; paused_reason: string | null },
) {
  return {
    env_id: extra.env_id,
    id: d.id,
    type: d.type,
    source: extra.source,
    events: d.events,
    event_map: d.event_map,
    click_window: formatDurationMs(d.click_window_ms),
    view_window: formatDurationMs(d.view_window_ms),
    // As configured; attribution clamps them to the two above, and `notes` says when it does.
    probabilistic_click_window: formatDurationMs(
      d.probabilistic_click_window_ms ?? DEFAULT_PROBABILISTIC_WINDOW_MS,
    ),
    probabilistic_view_window: formatDurationMs(
      d.probabilistic_view_window_ms ?? DEFAULT_PROBABILISTIC_WINDOW_MS,
    ),
    notes: probabilisticWindowNotes(d),
    attributed_only: d.attributed_only,
    view_requires_viewable: d.view_requires_viewable === true,
    merge_window: d.merge_window_auto ? 'auto' : formatDurationMs(d.merge_window_ms ?? 0),
    test_mode: d.test_mode,
    base_url: d.base_url,
    accept: d.accept ?? 'any',
    append_click_id: d.append_click_id ?? 'auto',
    timeout: formatDurationMs(d.timeout_ms),
    max_in_flight: d.max_in_flight ?? 1,
    retry: {
      base_delay: formatDurationMs(d.retry.baseMs),
      give_up_after: formatDurationMs(d.retry.maxAgeMs),
      max_attempts: d.retry.maxAttempts,
    },
    batch: { size: d.batch.size, max_wait: formatDurationMs(d.batch.max_wait_ms) },
    settings: maskedSettings(d),
    paused: extra.paused,
    paused_reason: extra.paused_reason,
  };
}

/** The destination types and their settings fields, which drive the dashboard's form. */
function destinationTypes() {
  return Object.values(ADAPTERS).map((a) => {
    const schema = a.settingsSchema as {
      properties?: Record<
        string,
        {
          secret?: boolean;
          description?: string;
          type?: string;
          anyOf?: Array<{ const?: unknown }>;
        }
      >;
      required?: string[];
    };
    return {
      type: a.type,
      max_batch: a.maxBatch,
      fields: Object.entries(schema.properties ?? {}).map(([name, p]) => ({
        name,
        kind: p.type ?? 'string',
        secret: p.secret === true,
        required: schema.required?.includes(name) ?? false,
        description: p.description ?? '',
        // A choice of literals (postback's method) becomes a select in the form.
        options: p.anyOf?.every((x) => typeof x.const === 'string')
          ? p.anyOf.map((x) => String(x.const))
          : undefined,
      })),
    };
  });
}

/**
 * `/api/destinations`: list, read, create, edit and delete destinations. Saved ones are kept
 * in the store and merged with the config file's (a saved one with the same id replaces the
 * file's); every change takes effect at once in this process and within a poll in others.
 */
export function destinationsApi(app: FastifyInstance, s: Services): void {
  app.register(async (api) => {
    const envOf = (env_id: string) => {
      const env = s.environment(env_id);
      if (!env) throw new HttpError(404, 'not_found', `no environment ${env_id}`);
      return env;
    };
    type Paused = Awaited<ReturnType<typeof s.store.pausedDestinations>>;
    const view = async (env_id: string, d: DestinationConfig, paused?: Paused) => {
      const p = (paused ?? (await s.store.pausedDestinations())).find(
        (x) => x.env_id === env_id && x.dest_id === d.id,
      );
      return destinationView(d, {
        env_id,
        source: s.destinations.sourceOf(env_id, d.id) ?? 'file',
        paused: !!p,
        paused_reason: p?.reason ?? null,
      });
    };
    const find = (env_id: string, dest_id: string) => {
      const d = findDestination(envOf(env_id), dest_id);
      if (!d) throw new HttpError(404, 'not_found', `no destination ${env_id}/${dest_id}`);
      return d;
    };

    /** Checks a destination in file form as the config file is checked; 400 names each field. */
    const allowance = addressAllowance(s.config.allow_private_destinations);
    /**
     * A URL on an address inside the network is refused when it is saved, by field; a host
     * name is checked again each time it is sent to (guarded-send.ts).
     */
    const privateAddressErrors = (d: DestinationConfig, file: DestinationConfig | undefined) =>
      urlsNotInFile(d, file).flatMap(({ field, url }) => {
        const host = URL.canParse(url) ? new URL(url).hostname.replace(/^\[|\]$/g, '') : '';
        const why = isIP(host) ? addressRefusal(host, allowance) : null;
        return why ? [{ field, message: `${why}; ${PRIVATE_ADVICE}` }] : [];
      });
    const validate = (
      envId: string,
      raw: Record<string, unknown>,
      body: Record<string, unknown>,
    ): DestinationConfig => {
      const { dest, errors } = s.destinations.parse(raw);
      const all: FieldError[] = apiFieldErrors(errors, body);
      // Same rule as the file's `delivery_lease`: a send must end before its lease does.
      if (dest.timeout_ms >= s.config.delivery_lease_ms)
        all.push({
          field: 'timeout',
          message: `must be shorter than delivery_lease (${formatDurationMs(s.config.delivery_lease_ms)})`,
        });
      all.push(...privateAddressErrors(dest, s.destinations.fileDestination(envId, dest.id)));
      if (all.length > 0)
        throw new HttpError(400, 'invalid_destination', 'the destination was not saved', all);
      return dest;
    };

    const save = async (env_id: string, dest: DestinationConfig, raw: Record<string, unknown>) => {
      await s.store.putStoredDestination(
        env_id,
        dest.id,
        s.destinations.sealForStore(env_id, raw),
        s.nowMs(),
      );
      await s.destinations.reload();
      s.worker.wake();
      return view(env_id, find(env_id, dest.id));
    };

    api.get(
      '/api/destination-types',
      { schema: { summary: "each destination type's settings fields, for forms" } },
      async () => ({ types: destinationTypes() }),
    );

    api.get<{ Querystring: Static<typeof ListQuery> }>(
      '/api/destinations',
      {
        schema: {
          summary:
            'destinations in use, with their source (file, store, store_override), settings with secrets as ****, paused state',
          querystring: ListQuery,
        },
      },
      async (req) => {
        const envs = req.query.env_id ? [envOf(req.query.env_id)] : s.config.environments;
        const paused = await s.store.pausedDestinations();
        const out = [];
        for (const e of envs) for (const d of e.destinations) out.push(await view(e.id, d, paused));
        return { destinations: out };
      },
    );

    api.get<{ Params: DestParams }>(
      '/api/destinations/:env_id/:dest_id',
      { schema: { summary: 'one destination, as the list shows it', params: DestParams } },
      async (req) => view(req.params.env_id, find(req.params.env_id, req.params.dest_id)),
    );

    api.post<{ Body: Body }>(
      '/api/destinations',
      {
        schema: {
          summary:
            "create a destination: the config file's destination fields, checked by the same parser (201; 409 if the id is taken)",
          body: Body,
        },
        bodyLimit: MAX_BODY_BYTES,
      },
      async (req, reply) => {
        const env_id = req.body.env_id;
        if (typeof env_id !== 'string' || env_id === '')
          throw new HttpError(400, 'invalid_destination', 'the destination was not saved', [
            { field: 'env_id', message: 'must be a non-empty string' },
          ]);
        const env = envOf(env_id);
        const raw = destinationFromInput(req.body, null, []);
        const dest = validate(env_id, raw, req.body);
        if (findDestination(env, dest.id))
          throw new HttpError(409, 'exists', `destination ${env_id}/${dest.id} already exists`, [
            { field: 'id', message: 'is taken in this environment' },
          ]);
        reply.code(201);
        return save(env_id, dest, raw);
      },
    );

    const edit = (replace: boolean) => async (req: { params: DestParams; body: Body }) => {
      const { env_id, dest_id } = req.params;
      const current = find(env_id, dest_id);
      if (req.body.id !== undefined && req.body.id !== dest_id)
        throw new HttpError(400, 'invalid_destination', 'the destination was not saved', [
          { field: 'id', message: 'cannot change; create a new destination instead' },
        ]);
      const adapter = adapterFor(current.type);
      const secrets = adapter ? secretFields(adapter.settingsSchema) : [];
      const raw = destinationFromInput({ ...req.body, id: dest_id }, current, secrets, replace);
      return save(env_id, validate(env_id, raw, req.body), raw);
    };
    const editOpts = { schema: { params: DestParams, body: Body }, bodyLimit: MAX_BODY_BYTES };
    api.patch<{ Params: DestParams; Body: Body }>(
      '/api/destinations/:env_id/:dest_id',
      {
        ...editOpts,
        schema: {
          ...editOpts.schema,
          summary:
            'edit a destination, keeping the fields left out (a secret sent as **** keeps its value)',
        },
      },
      edit(false),
    );
    api.put<{ Params: DestParams; Body: Body }>(
      '/api/destinations/:env_id/:dest_id',
      {
        ...editOpts,
        schema: {
          ...editOpts.schema,
          summary: 'replace a destination: fields left out go back to their defaults',
        },
      },
      edit(true),
    );

    api.post<{ Params: DestParams }>(
      '/api/destinations/:env_id/:dest_id/revert',
      {
        schema: {
          summary: 'drop the saved edit of a config-file destination (409 for one not in the file)',
          params: DestParams,
        },
      },
      async (req) => {
        const { env_id, dest_id } = req.params;
        envOf(env_id);
        if (!s.destinations.fileDestination(env_id, dest_id))
          throw new HttpError(
            409,
            'not_in_file',
            `${env_id}/${dest_id} is not in the config file: delete it instead`,
          );
        await s.store.forgetStoredDestination(env_id, dest_id);
        await s.destinations.reload();
        s.worker.wake();
        return view(env_id, find(env_id, dest_id));
      },
    );

    api.delete<{ Params: DestParams }>(
      '/api/destinations/:env_id/:dest_id',
      {
        schema: {
          summary:
            'delete a destination; its queued deliveries fail as "destination no longer configured"',
          params: DestParams,
        },
      },
      async (req) => {
        const { env_id, dest_id } = req.params;
        find(env_id, dest_id);
        await s.store.putStoredDestination(env_id, dest_id, null, s.nowMs());
        await s.destinations.reload();
        return { env_id, dest_id, deleted: true };
      },
    );
  });
}
