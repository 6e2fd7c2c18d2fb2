// A small metrics registry rendered in the Prometheus text exposition format (version 0.0.4):
// counters, gauges and histograms with labels. No protocol knowledge here: the instruments the
// server exposes are declared in `createServerMetrics`, and each service increments them through
// the `ServerMetrics` object main.ts hands it in its deps.
//
// Invariants:
// - Memory is bounded: each instrument keeps at most `maxSeries` label combinations; further
//   combinations are counted in `pigeon_metrics_dropped_series_total` instead of being stored.
// - Label values are escaped (backslash, double quote, newline) and cut to 200 characters.
// - Counters only go up; a negative increment is ignored.

const maxLabelValueLength = 200;
const defaultMaxSeries = 1000;
const nameRe = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelRe = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export type Labels<L extends string> = { [K in L]: string };

function escapeValue(v: string): string {
  return v.slice(0, maxLabelValueLength).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

function labelText(names: readonly string[], values: readonly string[], extra?: [string, string]): string {
  const parts = names.map((n, i) => `${n}="${escapeValue(values[i] ?? '')}"`);
  if (extra) parts.push(`${extra[0]}="${escapeValue(extra[1])}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

interface Instrument {
  readonly name: string;
  render(): string[];
}

abstract class Base<L extends string> implements Instrument {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  protected readonly maxSeries: number;
  protected readonly onDrop: () => void;

  constructor(name: string, help: string, labelNames: readonly L[], options: { maxSeries: number; onDrop: () => void }) {
    if (!nameRe.test(name)) throw new Error(`invalid metric name ${name}`);
    for (const l of labelNames) if (!labelRe.test(l) || l.startsWith('__') || l === 'le') throw new Error(`invalid label name ${l}`);
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
    this.maxSeries = options.maxSeries;
    this.onDrop = options.onDrop;
  }

  protected key(labels: Partial<Labels<L>> | undefined): { key: string; values: string[] } {
    const values = this.labelNames.map((n) => String(labels?.[n] ?? ''));
    return { key: JSON.stringify(values), values };
  }

  protected header(type: string): string[] {
    return [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${type}`];
  }

  abstract render(): string[];
}

export class Counter<L extends string = never> extends Base<L> {
  #series = new Map<string, { values: string[]; value: number }>();

  inc(labels?: Labels<L>, by = 1): void {
    if (!(by >= 0) || !Number.isFinite(by)) return;
    const { key, values } = this.key(labels);
    let s = this.#series.get(key);
    if (!s) {
      if (this.#series.size >= this.maxSeries) return this.onDrop();
      this.#series.set(key, (s = { values, value: 0 }));
    }
    s.value += by;
  }

  get(labels?: Labels<L>): number {
    return this.#series.get(this.key(labels).key)?.value ?? 0;
  }

  render(): string[] {
    const lines = this.header('counter');
    for (const s of this.#series.values()) lines.push(`${this.name}${labelText(this.labelNames, s.values)} ${formatNumber(s.value)}`);
    return lines;
  }
}

export class Gauge<L extends string = never> extends Base<L> {
  #series = new Map<string, { values: string[]; value: number }>();

  set(labels: Labels<L> | undefined, value: number): void {
    const { key, values } = this.key(labels);
    let s = this.#series.get(key);
    if (!s) {
      if (this.#series.size >= this.maxSeries) return this.onDrop();
      this.#series.set(key, (s = { values, value: 0 }));
    }
    s.value = value;
  }

  inc(labels?: Labels<L>, by = 1): void {
    this.set(labels, this.get(labels) + by);
  }

  dec(labels?: Labels<L>, by = 1): void {
    this.set(labels, this.get(labels) - by);
  }

  get(labels?: Labels<L>): number {
    return this.#series.get(this.key(labels).key)?.value ?? 0;
  }

  render(): string[] {
    const lines = this.header('gauge');
    for (const s of this.#series.values()) lines.push(`${this.name}${labelText(this.labelNames, s.values)} ${formatNumber(s.value)}`);
    return lines;
  }
}

/** Latency buckets in seconds, 1 ms … 60 s. */
export const defaultBuckets: readonly number[] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class Histogram<L extends string = never> extends Base<L> {
  readonly buckets: readonly number[];
  #series = new Map<string, { values: string[]; counts: number[]; sum: number; count: number }>();

  constructor(name: string, help: string, labelNames: readonly L[], options: { maxSeries: number; onDrop: () => void; buckets?: readonly number[] }) {
    super(name, help, labelNames, options);
    const b = [...(options.buckets ?? defaultBuckets)].sort((x, y) => x - y);
    if (b.length === 0 || b.some((x) => !Number.isFinite(x))) throw new Error(`histogram ${name} needs finite buckets`);
    this.buckets = b;
  }

  observe(labels: Labels<L> | undefined, value: number): void {
    if (!Number.isFinite(value)) return;
    const { key, values } = this.key(labels);
    let s = this.#series.get(key);
    if (!s) {
      if (this.#series.size >= this.maxSeries) return this.onDrop();
      this.#series.set(key, (s = { values, counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]! += 1;
    s.sum += value;
    s.count += 1;
  }

  /** Starts a timer; the returned function observes the seconds elapsed. */
  startTimer(labels?: Labels<L>): () => number {
    const start = process.hrtime.bigint();
    return () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      this.observe(labels, seconds);
      return seconds;
    };
  }

  /** Observations so far (tests, dashboards). */
  count(labels?: Labels<L>): number {
    return this.#series.get(this.key(labels).key)?.count ?? 0;
  }

  render(): string[] {
    const lines = this.header('histogram');
    for (const s of this.#series.values()) {
      this.buckets.forEach((b, i) => lines.push(`${this.name}_bucket${labelText(this.labelNames, s.values, ['le', formatNumber(b)])} ${s.counts[i]}`));
      lines.push(`${this.name}_bucket${labelText(this.labelNames, s.values, ['le', '+Inf'])} ${s.count}`);
      lines.push(`${this.name}_sum${labelText(this.labelNames, s.values)} ${formatNumber(s.sum)}`);
      lines.push(`${this.name}_count${labelText(this.labelNames, s.values)} ${s.count}`);
    }
    return lines;
  }
}

export class MetricsRegistry {
  #instruments = new Map<string, Instrument>();
  #collectors: Array<() => Promise<void> | void> = [];
  readonly #maxSeries: number;
  readonly #dropped: Counter;

  constructor(options: { maxSeriesPerMetric?: number } = {}) {
    this.#maxSeries = options.maxSeriesPerMetric ?? defaultMaxSeries;
    this.#dropped = this.counter('pigeon_metrics_dropped_series_total', 'Label combinations not recorded because a metric reached its series bound.');
  }

  #add<T extends Instrument>(instrument: T): T {
    if (this.#instruments.has(instrument.name)) throw new Error(`metric ${instrument.name} is already registered`);
    this.#instruments.set(instrument.name, instrument);
    return instrument;
  }

  #options() {
    return { maxSeries: this.#maxSeries, onDrop: () => this.#dropped.inc() };
  }

  counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return this.#add(new Counter<L>(name, help, labelNames, this.#options()));
  }

  gauge<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
    return this.#add(new Gauge<L>(name, help, labelNames, this.#options()));
  }

  histogram<L extends string = never>(name: string, help: string, labelNames: readonly L[] = [], options: { buckets?: readonly number[] } = {}): Histogram<L> {
    return this.#add(new Histogram<L>(name, help, labelNames, { ...this.#options(), ...options }));
  }

  /** Runs before each render (gauges read at scrape time: queue size, certificate expiry). */
  collect(fn: () => Promise<void> | void): void {
    this.#collectors.push(fn);
  }

  /** The Prometheus text format (Content-Type `text/plain; version=0.0.4`). A failing collector is skipped. */
  async render(): Promise<string> {
    await Promise.allSettled(this.#collectors.map(async (c) => c()));
    const lines: string[] = [];
    for (const i of this.#instruments.values()) lines.push(...i.render());
    return lines.join('\n') + '\n';
  }
}

export const prometheusContentType = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * The instruments Pigeon exposes. Label `protocol` is the service ("imap", "pop3", "smtp",
 * "submission", "http", "push"…); `outcome` is "ok" or "failed".
 */
export interface ServerMetrics {
  readonly registry: MetricsRegistry;
  /** Accepted connections, by protocol (protocol listeners call this once per connection). */
  readonly connections: Counter<'protocol'>;
  /** Open connections, by protocol (inc on accept, dec on close). */
  readonly openConnections: Gauge<'protocol'>;
  /** Logins, by protocol and outcome ("ok", "failed", "locked"). */
  readonly logins: Counter<'protocol' | 'outcome'>;
  /** Time to decide a login (the failure delay included). */
  readonly loginSeconds: Histogram<'protocol'>;
  /** Messages accepted over SMTP/LMTP (after DATA/BDAT), by listener. */
  readonly messagesReceived: Counter<'protocol'>;
  /** Local deliveries, by result ("delivered", "unknown", "over-quota", "failed"). */
  readonly deliveries: Counter<'result'>;
  /** Time of one local delivery call. */
  readonly deliverySeconds: Histogram;
  /** Messages appended to mailboxes (delivery, APPEND, copies), from the change feed. */
  readonly mailboxAppends: Counter;
  /** Messages put on the outbound queue. */
  readonly messagesQueued: Counter;
  /** Outbound attempts, by result ("delivered", "deferred", "failed"). */
  readonly outboundAttempts: Counter<'result'>;
  /** Bounces (DSNs) generated. */
  readonly bounces: Counter;
  /** Push notification attempts, by outcome ("ok", "failed"). */
  readonly pushNotifications: Counter<'outcome'>;
  /** HTTP requests, by route kind and status class. */
  readonly httpRequests: Counter<'area' | 'status'>;
  readonly httpSeconds: Histogram<'area'>;
  /** Outbound queue: messages waiting (set at scrape time). */
  readonly queueSize: Gauge;
  /** Seconds until the default certificate expires (set at scrape time). */
  readonly certificateExpirySeconds: Gauge;
}

export function createServerMetrics(registry: MetricsRegistry = new MetricsRegistry()): ServerMetrics {
  return {
    registry,
    connections: registry.counter('pigeon_connections_total', 'Connections accepted, by protocol.', ['protocol']),
    openConnections: registry.gauge('pigeon_open_connections', 'Connections open now, by protocol.', ['protocol']),
    logins: registry.counter('pigeon_logins_total', 'Login attempts, by protocol and outcome (ok, failed, locked).', ['protocol', 'outcome']),
    loginSeconds: registry.histogram('pigeon_login_duration_seconds', 'Time to decide a login, failure delay included.', ['protocol']),
    messagesReceived: registry.counter('pigeon_messages_received_total', 'Messages accepted over SMTP, submission or LMTP.', ['protocol']),
    deliveries: registry.counter('pigeon_deliveries_total', 'Local deliveries by recipient result.', ['result']),
    deliverySeconds: registry.histogram('pigeon_delivery_duration_seconds', 'Time of one local delivery call.'),
    mailboxAppends: registry.counter('pigeon_mailbox_appends_total', 'Messages added to mailboxes (delivery, APPEND, copy).'),
    messagesQueued: registry.counter('pigeon_messages_queued_total', 'Messages put on the outbound queue.'),
    outboundAttempts: registry.counter('pigeon_outbound_attempts_total', 'Outbound delivery attempts by result.', ['result']),
    bounces: registry.counter('pigeon_bounces_total', 'Delivery status notifications (bounces) generated.'),
    pushNotifications: registry.counter('pigeon_push_notifications_total', 'Push notification attempts by outcome.', ['outcome']),
    httpRequests: registry.counter('pigeon_http_requests_total', 'HTTP requests by area and status class.', ['area', 'status']),
    httpSeconds: registry.histogram('pigeon_http_request_duration_seconds', 'HTTP request latency by area.', ['area']),
    queueSize: registry.gauge('pigeon_queue_messages', 'Messages on the outbound queue.'),
    certificateExpirySeconds: registry.gauge('pigeon_certificate_expiry_seconds', 'Seconds until the TLS certificate expires.'),
  };
}

/** The connection counters of one protocol, as a listener's ConnectionObserver. */
export function connectionObserver(metrics: ServerMetrics | undefined, protocol: string): { opened(): void; closed(): void } | undefined {
  if (!metrics) return undefined;
  return {
    opened: () => {
      metrics.connections.inc({ protocol });
      metrics.openConnections.inc({ protocol });
    },
    closed: () => metrics.openConnections.dec({ protocol }),
  };
}
