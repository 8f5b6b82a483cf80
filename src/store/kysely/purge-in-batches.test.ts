import { describe, expect, it } from 'vitest';
import { FIRST_BATCH_ROWS, nextBatchRows, PURGE_BATCH_ROWS } from './purge-in-batches.js';

describe('nextBatchRows', () => {
  it('PZ01 grows at most twofold while batches are quick, up to PURGE_BATCH_ROWS', () => {
    let rows = FIRST_BATCH_ROWS;
    const sizes: number[] = [];
    for (let i = 0; i < 6; i++) {
      rows = nextBatchRows(rows, 1);
      sizes.push(rows);
    }
    expect(sizes).toEqual([200, 400, 800, 1_000, 1_000, 1_000]);
    expect(nextBatchRows(PURGE_BATCH_ROWS, 0)).toBe(PURGE_BATCH_ROWS);
  });

  it('PZ02 shrinks a batch that took long to what would take the target time', () => {
    // 1,000 rows in 100 ms (a cold cache): the next takes about 10 ms.
    expect(nextBatchRows(1_000, 100)).toBe(100);
    expect(nextBatchRows(1_000, 20)).toBe(500);
    // Never below half the first batch: a stalled box still makes headway.
    expect(nextBatchRows(100, 10_000)).toBe(FIRST_BATCH_ROWS / 2);
  });
});
