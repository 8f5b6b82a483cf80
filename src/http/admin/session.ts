import { createHmac, randomBytes } from 'node:crypto';
import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AppConfig } from '../../domain/config-types.js';
import type { Store } from '../../store/store.js';
import { HttpError } from '../errors.js';
import { anySecretEquals, KnownSecrets, secretEquals } from '../request/key-check.js';

/** The dashboard's session cookie. */
export const SESSION_COOKIE = 'pt_session';
/** The header carrying the CSRF token on state-changing calls made with the session cookie. */
export const CSRF_HEADER = 'x-csrf-token';
const SESSION_TTL_S = 12 * 3600;
const SESSION_RE = new RegExp(`(?:^|;\\s*)${SESSION_COOKIE}=([A-Za-z0-9_.-]{1,200})(?:;|$)`);

/** Admin tokens valid now: the current one and those being rotated out. */
export function adminTokens(config: AppConfig): string[] {
  return [config.admin_token, ...config.previous_admin_tokens];
}

const adminSecretsOf = new WeakMap<AppConfig, KnownSecrets<true>>();

/** The admin tokens of a config snapshot, hashed once (the rate limiter checks every key). */
export function adminSecrets(config: AppConfig): KnownSecrets<true> {
  let known = adminSecretsOf.get(config);
  if (!known) {
    known = new KnownSecrets(adminTokens(config).map((t) => [t, true] as const));
    adminSecretsOf.set(config, known);
  }
  return known;
}

/**
 * Sessions and CSRF tokens are HMACs keyed from the current admin token, so every process
 * behind a load balancer accepts them and rotating the token ends every session.
 */
function sessionKey(config: AppConfig): Buffer {
  return createHmac('sha256', config.admin_token).update('pixeltrail dashboard session').digest();
}

function mac(config: AppConfig, text: string): string {
  return createHmac('sha256', sessionKey(config)).update(text).digest('base64url');
}

function newSession(config: AppConfig, nowS: number): string {
  const body = `${nowS + SESSION_TTL_S}.${randomBytes(16).toString('base64url')}`;
  return `${body}.${mac(config, body)}`;
}

/** The CSRF token bound to one session (double-submit is not needed: it is derived). */
export function csrfToken(config: AppConfig, session: string): string {
  return mac(config, `csrf:${session}`);
}

/** A genuine, unexpired session cookie: its value, its id (the nonce) and its expiry. */
export interface Session {
  value: string;
  id: string;
  expiresAtS: number;
}

/** The request's session cookie when it is genuine and unexpired (revocation not checked). */
export function validSession(config: AppConfig, req: FastifyRequest, nowS: number): Session | null {
  const value = SESSION_RE.exec(req.headers.cookie ?? '')?.[1];
  if (!value) return null;
  const [exp, nonce, sig] = value.split('.');
  if (!exp || !nonce || !sig) return null;
  if (!secretEquals(sig, mac(config, `${exp}.${nonce}`))) return null;
  const expiresAtS = Number(exp);
  return expiresAtS > nowS ? { value, id: nonce, expiresAtS } : null;
}

/** What the session checks need: the config, a clock and the list of logged-out sessions. */
export interface SessionDeps {
  config: AppConfig;
  nowMs: () => number;
  store: Pick<Store, 'revokeSession' | 'sessionRevoked'>;
}

/** The request's session when it is genuine, unexpired and not logged out. */
export async function liveSession(deps: SessionDeps, req: FastifyRequest): Promise<Session | null> {
  const session = validSession(deps.config, req, Math.floor(deps.nowMs() / 1000));
  if (!session || (await deps.store.sessionRevoked(session.id))) return null;
  return session;
}

function sessionCookie(req: FastifyRequest, value: string, maxAgeS: number): string {
  const secure = req.protocol === 'https' ? '; Secure' : '';
  return `${SESSION_COOKIE}=${value}; Max-Age=${maxAgeS}; Path=/; HttpOnly; SameSite=Strict${secure}`;
}

const LoginBody = Type.Object({ token: Type.String({ minLength: 1, maxLength: 512 }) });

/**
 * `POST /api/session` exchanges the admin token for an HttpOnly, SameSite=Strict session
 * cookie and its CSRF token; `GET` says whether the cookie is a live session and gives the
 * CSRF token again; `DELETE` logs out: the session is revoked in the store, so a copy of the
 * cookie stops working on every process too.
 */
export function sessionRoutes(app: FastifyInstance, deps: SessionDeps): void {
  const { config, nowMs } = deps;
  app.post<{ Body: Static<typeof LoginBody> }>(
    '/api/session',
    {
      schema: {
        summary:
          "the dashboard's login: the admin token for an HttpOnly, SameSite=Strict pt_session cookie and its CSRF token",
        body: LoginBody,
      },
      bodyLimit: 4096,
    },
    async (req, reply: FastifyReply) => {
      if (!anySecretEquals(req.body.token, adminTokens(config)))
        throw new HttpError(401, 'unauthorized', 'the admin token is not valid');
      const session = newSession(config, Math.floor(nowMs() / 1000));
      reply.header('set-cookie', sessionCookie(req, session, SESSION_TTL_S));
      return { csrf_token: csrfToken(config, session), expires_in: SESSION_TTL_S };
    },
  );
  // Answers 200 either way: the dashboard asks before showing anything, and a 401 would be a
  // console error on every logged-out visit.
  app.get(
    '/api/session',
    {
      schema: {
        summary: 'whether the cookie is a live session, with its CSRF token (200 either way)',
      },
    },
    async (req) => {
      const session = await liveSession(deps, req);
      if (!session) return { authenticated: false };
      return { authenticated: true, csrf_token: csrfToken(config, session.value) };
    },
  );
  app.delete(
    '/api/session',
    { schema: { summary: 'log out: the session is revoked on every process' } },
    async (req, reply) => {
      const session = validSession(config, req, Math.floor(nowMs() / 1000));
      if (session) await deps.store.revokeSession(session.id, session.expiresAtS * 1000, nowMs());
      reply.header('set-cookie', sessionCookie(req, '', 0));
      return { ok: true };
    },
  );
}
