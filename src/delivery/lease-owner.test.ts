import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { deadLocalOwners, newLeaseOwner } from './lease-owner.js';

describe('lease owners', () => {
  it('O01 a live local process and other hosts keep their leases; a dead local one loses them', () => {
    const live = newLeaseOwner('serve');
    const parent = `${hostname()}:${process.ppid}:serve-x`;
    const dead = `${hostname()}:999999999:serve-y`;
    const remote = 'other-host:1:serve-z';
    expect(deadLocalOwners([live, parent, dead, remote])).toEqual([dead]);
  });
});
