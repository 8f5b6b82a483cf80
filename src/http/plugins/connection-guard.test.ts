import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/helpers/pixeltrail.js';
import {
  defaultMaxConnections,
  openFileLimit,
  timeoutCheckIntervalMs,
} from './connection-guard.js';

describe('connection limits', () => {
  it('CG01 the default cap leaves a fifth of the file limit, and at least 256 files, to the rest', () => {
    expect(defaultMaxConnections(20_000)).toBe(16_000);
    expect(defaultMaxConnections(1024)).toBe(768);
    expect(defaultMaxConnections(65_536)).toBe(52_428);
    expect(defaultMaxConnections(100)).toBe(1);
  });

  it('CG02 the file limit is the soft limit of /proc/self/limits, 1024 when unreadable', () => {
    const file = path.join(tempDir(), 'limits');
    writeFileSync(
      file,
      'Limit                     Soft Limit           Hard Limit           Units\nMax open files            20000                40000                files\n',
    );
    expect(openFileLimit(file)).toBe(20_000);
    expect(openFileLimit(path.join(tempDir(), 'none'))).toBe(1024);
    expect(openFileLimit()).toBeGreaterThan(0);
  });

  it('CG03 node:http checks the request timeout at least every second, a quarter of it when short', () => {
    expect(timeoutCheckIntervalMs(30_000)).toBe(1000);
    expect(timeoutCheckIntervalMs(400)).toBe(100);
    expect(timeoutCheckIntervalMs(1)).toBe(10);
  });
});
