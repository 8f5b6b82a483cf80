import { describe, expect, it } from 'vitest';
import { Metrics } from './metrics.js';

describe('Metrics.tallied', () => {
  it('M01 a tallied child counts into its counter when the counter is read, once', async () => {
    const m = new Metrics();
    const hits = m.tallied(m.hits, { endpoint: 'i' });
    hits.inc();
    hits.inc();
    m.hits.inc({ endpoint: 'e' });
    const text = await m.registry.metrics();
    expect(text).toContain('pixeltrail_hits_total{endpoint="i"} 2');
    expect(text).toContain('pixeltrail_hits_total{endpoint="e"} 1');
    hits.inc();
    const values = (await m.hits.get()).values;
    expect(values.find((v) => v.labels.endpoint === 'i')?.value).toBe(3);
  });

  it('M02 tallied children of one counter keep their label sets apart', async () => {
    const m = new Metrics();
    const bot = m.tallied(m.invalidHits, { endpoint: 'i', reason: 'bot' });
    const prefetch = m.tallied(m.invalidHits, { endpoint: 'i', reason: 'prefetch' });
    bot.inc();
    prefetch.inc();
    prefetch.inc();
    const text = await m.registry.metrics();
    expect(text).toContain('pixeltrail_invalid_hits_total{endpoint="i",reason="bot"} 1');
    expect(text).toContain('pixeltrail_invalid_hits_total{endpoint="i",reason="prefetch"} 2');
  });

  it('M03 hit() counts each endpoint apart, beside a tallied child of the same endpoint', async () => {
    const m = new Metrics();
    const pixel = m.tallied(m.hits, { endpoint: 'i' });
    pixel.inc();
    m.hit('i');
    m.hit('v1_events');
    m.hit('v1_events');
    const text = await m.registry.metrics();
    expect(text).toContain('pixeltrail_hits_total{endpoint="i"} 2');
    expect(text).toContain('pixeltrail_hits_total{endpoint="v1_events"} 2');
  });

  it("M04 /metrics holds the server's own counts and the process's metrics once, for every server of the process", async () => {
    const a = new Metrics();
    const b = new Metrics();
    // Not in a server's own registry: made once for the process, not once per server.
    for (const m of [a, b])
      expect(
        m.registry.getSingleMetric('pixeltrail_process_resident_memory_bytes'),
      ).toBeUndefined();
    a.hit('i');
    b.hit('e');
    const typeLines = (text: string, name: string) =>
      text.split('\n').filter((l) => l === `# TYPE ${name} gauge`).length;
    for (const [m, own, other] of [
      [a, 'i', 'e'],
      [b, 'e', 'i'],
    ] as const) {
      const text = await m.exposition();
      expect(text).toContain(`pixeltrail_hits_total{endpoint="${own}"} 1`);
      expect(text).not.toContain(`pixeltrail_hits_total{endpoint="${other}"}`);
      expect(typeLines(text, 'pixeltrail_process_resident_memory_bytes')).toBe(1);
      expect(typeLines(text, 'pixeltrail_nodejs_heap_size_used_bytes')).toBe(1);
    }
  });
});
