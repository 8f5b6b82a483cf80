import { Writable } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { lazyChildLogger } from './lazy-request-logger.js';

function logger(level: string) {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  let children = 0;
  const base = pino({ level }, stream);
  // The app logger as Fastify holds it, counting the children made of it.
  const counting = Object.create(base) as pino.Logger;
  counting.child = ((b: pino.Bindings, o?: pino.ChildLoggerOptions) => {
    children++;
    return base.child(b, o);
  }) as unknown as typeof base.child;
  return { base: counting as unknown as FastifyBaseLogger, lines, made: () => children };
}

describe('lazy request logger', () => {
  it('makes no child for lines below the level, and writes bound lines at it', () => {
    const l = logger('warn');
    const log = lazyChildLogger(l.base, { reqId: 'req-7' }, {});
    log.info('quiet');
    log.debug({ a: 1 }, 'quieter');
    expect(l.made()).toBe(0);
    log.error({ code: 'x' }, 'failed');
    expect(l.made()).toBe(1);
    expect(l.lines).toEqual([
      expect.objectContaining({ reqId: 'req-7', code: 'x', msg: 'failed' }),
    ]);
  });

  it('follows the level of the app logger and of its own once set', () => {
    const l = logger('info');
    const log = lazyChildLogger(l.base, { reqId: 'r' }, {});
    expect(log.level).toBe('info');
    log.info('seen');
    log.level = 'error';
    log.warn('not seen');
    expect(l.lines.map((x) => x.msg)).toEqual(['seen']);
    expect(log.child({ more: 1 }).level).toBe('error');
  });

  it("takes a route's own level (Fastify's logLevel) over the app's", () => {
    const l = logger('info');
    const log = lazyChildLogger(l.base, { reqId: 'r' }, { level: 'debug' });
    expect(log.level).toBe('debug');
    log.debug('route debug line');
    expect(l.lines).toEqual([expect.objectContaining({ msg: 'route debug line', reqId: 'r' })]);
  });
});
