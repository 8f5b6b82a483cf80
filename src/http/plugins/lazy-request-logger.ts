import type { FastifyBaseLogger } from 'fastify';
import {
  type Bindings,
  type ChildLoggerOptions,
  type Level,
  type LevelWithSilentOrString,
  levels,
} from 'pino';

/** Whether a logger at `current` writes lines of `level` (pino's test, on the numbers). */
function enabled(current: string, level: string): boolean {
  const at = levels.values[current];
  const wanted = levels.values[level];
  return at !== undefined && wanted !== undefined && wanted >= at;
}

/**
 * Fastify gives every request a child of the app's logger (`request.log`, bound to its
 * request id). pino makes a child by serialising its bindings through the redaction set up in
 * log-redaction.ts, about 3 µs a request (profile of single-event `POST /v1/events`), while
 * at the default level no request logs a line. This child is made only when a line is
 * written at an enabled level; until then nothing but this small object exists.
 */
export class LazyRequestLogger {
  private made: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  private get real(): FastifyBaseLogger {
    this.made ??= this.parent.child(this.bindings, this.options);
    return this.made;
  }

  /** The child's level: a route's own `logLevel` (Fastify's child options), else the app's. */
  get level(): LevelWithSilentOrString {
    return this.made?.level ?? this.options.level ?? this.parent.level;
  }

  set level(level: LevelWithSilentOrString) {
    this.real.level = level;
  }

  private write(level: Level, args: unknown[]): void {
    const logger = this.made ?? (enabled(this.level, level) ? this.real : undefined);
    if (logger) (logger[level] as (...a: unknown[]) => void)(...args);
  }

  fatal(...args: unknown[]): void {
    this.write('fatal', args);
  }
  error(...args: unknown[]): void {
    this.write('error', args);
  }
  warn(...args: unknown[]): void {
    this.write('warn', args);
  }
  info(...args: unknown[]): void {
    this.write('info', args);
  }
  debug(...args: unknown[]): void {
    this.write('debug', args);
  }
  trace(...args: unknown[]): void {
    this.write('trace', args);
  }
  silent(): void {}

  isLevelEnabled(level: LevelWithSilentOrString): boolean {
    return enabled(this.level, level);
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.real.child(bindings, options);
  }
}

/** Fastify's `childLoggerFactory`: request loggers made on first use. */
export function lazyChildLogger(
  logger: FastifyBaseLogger,
  bindings: Bindings,
  options: ChildLoggerOptions,
): FastifyBaseLogger {
  return new LazyRequestLogger(logger, bindings, options) as unknown as FastifyBaseLogger;
}
