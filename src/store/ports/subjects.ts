import type { ErasureRemovals } from '../audience-records.js';
import type { Erasure, SubjectData, SubjectKeys } from '../records.js';

/** Data-subject requests: everything stored about one person, and its erasure. */
export interface SubjectsPort {
  /** Everything stored about one person (events, touches, links, conversions, deliveries). */
  findSubject(keys: SubjectKeys): Promise<SubjectData>;
  /** Deletes every row of one person in one transaction, and leaves no copy in the files. */
  eraseSubject(keys: SubjectKeys, removals: ErasureRemovals, now_ms: number): Promise<Erasure>;
}
