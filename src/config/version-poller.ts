/** How often a process looks for definitions another process changed (destinations, audiences). */
export const DEFINITIONS_POLL_MS = 2_000;

export interface VersionPollerDeps {
  /** A cheap fingerprint that changes with every write (see store/table-version.ts). */
  version: () => Promise<string>;
  /** Rereads what the process keeps in memory. */
  reload: () => Promise<void>;
  /** Called just before each poll reads the version (what happened before it is covered). */
  beforeCheck?: () => void;
  onError: (message: string) => void;
}

/**
 * Keeps in-memory definitions current with the store: polls a version stamp and reloads when
 * it moved, so an edit made through one process is seen in every other within one poll.
 */
export class VersionPoller {
  private version: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;

  constructor(private readonly deps: VersionPollerDeps) {}

  /** Reloads now, whatever the version. */
  async reload(): Promise<void> {
    // Read before reloading: a write landing during the reload moves the version again.
    const version = await this.deps.version();
    await this.deps.reload();
    this.version = version;
  }

  /** Reloads when the version moved since the last reload; one poll at a time. */
  async poll(): Promise<void> {
    if (this.polling) return this.polling;
    this.polling = (async () => {
      try {
        this.deps.beforeCheck?.();
        if ((await this.deps.version()) !== this.version) await this.reload();
      } catch (e) {
        this.deps.onError((e as Error).message);
      } finally {
        this.polling = null;
      }
    })();
    return this.polling;
  }

  start(everyMs = DEFINITIONS_POLL_MS): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.poll(), everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.polling;
  }
}
