import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

/** A lease owner names its host and process, so a restart can tell its dead predecessors. */
export function newLeaseOwner(role: string): string {
  return `${hostname()}:${process.pid}:${role}-${randomUUID().slice(0, 8)}`;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Owners on this host whose process is gone (killed mid-send): their rows can be taken
 * back at once instead of after the lease expires. Owners on other hosts are left alone.
 */
export function deadLocalOwners(owners: readonly string[]): string[] {
  const host = hostname();
  return owners.filter((o) => {
    const [h, pid] = o.split(':');
    return h === host && Number(pid) !== process.pid && !processAlive(Number(pid));
  });
}
