import type { Touch } from '../domain/event.js';
import { touchViewOf } from '../domain/viewability.js';
import type { IngestTx } from '../store/store.js';

/**
 * The touches with what the viewability tag measured of their impressions (`touch.view`),
 * one primary-key read per impression. The ingest path reads them only when a destination
 * asks for viewable impressions (`view_requires_viewable`, issue 24), so others pay nothing.
 */
export async function withViews(
  tx: Pick<IngestTx, 'impressionViews'>,
  touches: Touch[],
  needed = true,
): Promise<Touch[]> {
  const impressions = touches.filter((t) => t.kind === 'impression');
  if (!needed || impressions.length === 0) return touches;
  const byEnv = new Map<string, string[]>();
  for (const t of impressions) byEnv.set(t.env_id, [...(byEnv.get(t.env_id) ?? []), t.touch_id]);
  const found = new Map<string, Touch['view']>();
  for (const [env, ids] of byEnv)
    for (const [id, v] of await tx.impressionViews(env, ids))
      found.set(`${env}\u0000${id}`, touchViewOf(v));
  return touches.map((t) => {
    const view = t.kind === 'impression' ? found.get(`${t.env_id}\u0000${t.touch_id}`) : undefined;
    return view ? { ...t, view } : t;
  });
}

/** Whether any of these destinations credits viewable impressions only. */
export const needsViews = (dests: ReadonlyArray<{ view_requires_viewable?: boolean }>) =>
  dests.some((d) => d.view_requires_viewable === true);
