import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { MetricsRegistry, createServerMetrics } from '../../src/shared/metrics.js';

describe('metrics registry (Prometheus text format 0.0.4)', () => {
  test('counters, gauges and histograms render with HELP, TYPE and labels', async () => {
    const r = new MetricsRegistry();
    const c = r.counter('t_requests_total', 'Requests.', ['method']);
    const g = r.gauge('t_open', 'Open things.');
    const h = r.histogram('t_seconds', 'Latency.', ['op'], { buckets: [0.1, 1] });
    c.inc({ method: 'GET' });
    c.inc({ method: 'GET' }, 2);
    c.inc({ method: 'POST' });
    c.inc({ method: 'POST' }, -5);
    g.set(undefined, 3);
    g.dec();
    h.observe({ op: 'x' }, 0.05);
    h.observe({ op: 'x' }, 0.5);
    h.observe({ op: 'x' }, 5);
    const lines = (await r.render()).split('\n');
    for (const expected of [
      '# HELP t_requests_total Requests.', '# TYPE t_requests_total counter', 't_requests_total{method="GET"} 3', 't_requests_total{method="POST"} 1',
      '# TYPE t_open gauge', 't_open 2',
      '# TYPE t_seconds histogram', 't_seconds_bucket{op="x",le="0.1"} 1', 't_seconds_bucket{op="x",le="1"} 2', 't_seconds_bucket{op="x",le="+Inf"} 3',
      't_seconds_sum{op="x"} 5.55', 't_seconds_count{op="x"} 3',
    ]) assert.ok(lines.includes(expected), `missing line: ${expected}`);
  });

  test('label values are escaped and bounded', async () => {
    const r = new MetricsRegistry();
    r.counter('t_total', 'x', ['v']).inc({ v: 'a"b\\c\nd' + 'z'.repeat(500) });
    const line = (await r.render()).split('\n').find((l) => l.startsWith('t_total{'))!;
    assert.ok(line.startsWith('t_total{v="a\\"b\\\\c\\nd'), line);
    assert.ok(line.length < 260, `label value is cut: ${line.length}`);
  });

  test('series beyond the bound are dropped and counted, not stored', async () => {
    const r = new MetricsRegistry({ maxSeriesPerMetric: 3 });
    const c = r.counter('t_total', 'x', ['id']);
    for (let i = 0; i < 10; i++) c.inc({ id: String(i) });
    const text = await r.render();
    assert.equal(text.split('\n').filter((l) => l.startsWith('t_total{')).length, 3);
    assert.match(text, /^pigeon_metrics_dropped_series_total 7$/m);
  });

  test('collectors run at render time and a failing one is skipped', async () => {
    const m = createServerMetrics();
    let size = 0;
    m.registry.collect(() => m.queueSize.set(undefined, size));
    m.registry.collect(() => {
      throw new Error('boom');
    });
    size = 42;
    assert.match(await m.registry.render(), /^pigeon_queue_messages 42$/m);
  });

  test('bad names are refused at registration', () => {
    const r = new MetricsRegistry();
    assert.throws(() => r.counter('bad-name', 'x'));
    assert.throws(() => r.counter('ok_total', 'x', ['le' as string]));
    r.counter('dup_total', 'x');
    assert.throws(() => r.counter('dup_total', 'x'));
  });
});
