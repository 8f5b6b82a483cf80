import type { Touch } from '../domain/event.js';
import { touchViewOf, viewKey } from '../domain/viewability.js';
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
  if (!needed) return touches;
  const impressions = touches.filter((t) => t.kind === 'impression');
  if (impressions.length === 0) return touches;
  const byEnv = new Map<string, Array<{ dest_id: string; imp_id: string }>>();
  for (const t of impressions) {
    const refs = byEnv.get(t.env_id) ?? [];
    refs.push({ dest_id: t.dest_id ?? '', imp_id: t.touch_id });
    byEnv.set(t.env_id, refs);
  }
  const found = new Map<string, Touch['view']>();
  for (const [env, refs] of byEnv)
    for (const [key, v] of await tx.impressionViews(env, refs)) found.set(key, touchViewOf(v));
  return touches.map((t) => {
    const view =
      t.kind === 'impression'
        ? found.get(viewKey(t.env_id, t.dest_id ?? '', t.touch_id))
        : undefined;
    return view ? { ...t, view } : t;
  });
}

/** Whether any of these destinations credits viewable impressions only. */
export const needsViews = (dests: ReadonlyArray<{ view_requires_viewable?: boolean }>) =>
  dests.some((d) => d.view_requires_viewable === true);
