import type { Services } from '../services.js';

/** Pixel and click hits of one destination since the process started, and the broken ones. */
export interface MacroHealth {
  /** Null for hits that named no destination (`/p` without `dest_id`). */
  dest_id: string | null;
  hits: number;
  /** Hits with at least one unexpanded ad-server macro. */
  with_macros: number;
  share: number | null;
  /** How many hits had a macro in each parameter. */
  params: Record<string, number>;
}

/**
 * Per destination of `envId`, the share of pixel and click hits that carried unexpanded
 * macros, from the counters of macro-counts.ts (this process, since it started).
 */
export async function macroHealth(s: Services, envId: string): Promise<MacroHealth[]> {
  const ofEnv = <T extends { labels: Record<string, string | number | undefined> }>(v: T[]) =>
    v.filter((x) => x.labels.env_id === envId);
  const hits = ofEnv((await s.metrics.destinationHits.get()).values);
  const broken = ofEnv((await s.metrics.macroHits.get()).values);
  const params = ofEnv((await s.metrics.unexpandedMacros.get()).values);
  return hits.map((h) => {
    const dest = String(h.labels.dest_id ?? '');
    const withMacros = broken.find((b) => b.labels.dest_id === dest)?.value ?? 0;
    const byParam: Record<string, number> = {};
    for (const p of params.filter((x) => x.labels.dest_id === dest)) {
      const name = String(p.labels.param);
      byParam[name] = (byParam[name] ?? 0) + p.value;
    }
    return {
      dest_id: dest === '' ? null : dest,
      hits: h.value,
      with_macros: withMacros,
      share: h.value === 0 ? null : Math.round((withMacros / h.value) * 1000) / 1000,
      params: byParam,
    };
  });
}
