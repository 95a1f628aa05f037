/**
 * The gateway's metrics in the Prometheus text exposition format (version 0.0.4):
 *
 * - `agov_gateway_http_requests_total{method,route,status}` — requests answered, by route pattern
 *   (never the raw URL, so ids do not explode the label set; unknown paths are `route="(unmatched)"`);
 * - `agov_gateway_http_request_duration_seconds{method,route}` (summary: `_sum`, `_count`) — time spent answering;
 * - `agov_gateway_audit_failures_total` — audit records JetStream did not confirm;
 * - `agov_gateway_bus_connected` — 1 while the gateway's NATS connection is up;
 * - `agov_bus_events_total{event}` — the gateway bus's counters (sent, asked, received, emitted, …);
 * - `agov_bus_rejected_total{code}` / `agov_bus_dead_lettered_total{code}` — input refused and
 *   dead-lettered by the gateway's bus, by error code.
 *
 * No key, key name or request content ever becomes a label.
 */

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'summary';
  /** `suffix` for a summary's `_sum` / `_count` samples. */
  samples: Array<{ labels: Record<string, string>; value: number; suffix?: string }>;
}

/** Escapes a label value: backslash, double quote and newline. */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatValue(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Number.POSITIVE_INFINITY) return '+Inf';
  if (n === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(n);
}

/** Renders metric families as Prometheus text. */
export function renderFamilies(families: readonly Family[]): string {
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
    lines.push(`# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = Object.entries(s.labels)
        .map(([k, v]) => `${k}="${escapeLabelValue(v)}"`)
        .join(',');
      lines.push(`${f.name}${s.suffix ?? ''}${labels ? `{${labels}}` : ''} ${formatValue(s.value)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

const key = (...parts: string[]) => JSON.stringify(parts);

/** HTTP counters kept by the gateway; bus counters are read from the bus at render time. */
export class GatewayMetrics {
  private readonly requests = new Map<string, number>();
  private readonly durations = new Map<string, { sum: number; count: number }>();
  private auditFailures = 0;

  recordRequest(method: string, route: string, status: number, seconds: number): void {
    const k = key(method, route, String(status));
    this.requests.set(k, (this.requests.get(k) ?? 0) + 1);
    const dk = key(method, route);
    const d = this.durations.get(dk) ?? { sum: 0, count: 0 };
    d.sum += seconds;
    d.count += 1;
    this.durations.set(dk, d);
  }

  recordAuditFailure(): void {
    this.auditFailures++;
  }

  /** Requests answered so far (all routes). */
  totalRequests(): number {
    let n = 0;
    for (const v of this.requests.values()) n += v;
    return n;
  }

  /** The whole exposition: HTTP counters plus a snapshot of the bus's counters. */
  render(bus: { counters: Record<string, number>; connected: boolean }): string {
    const sorted = <T>(m: Map<string, T>) => [...m.entries()].sort(([a], [b]) => a.localeCompare(b));
    const http: Family = {
      name: 'agov_gateway_http_requests_total',
      help: 'HTTP requests answered by the gateway, by method, route pattern and status.',
      type: 'counter',
      samples: sorted(this.requests).map(([k, value]) => {
        const [method, route, status] = JSON.parse(k) as [string, string, string];
        return { labels: { method, route, status }, value };
      }),
    };
    const duration: Family = {
      name: 'agov_gateway_http_request_duration_seconds',
      help: 'Seconds spent answering requests, by method and route pattern.',
      type: 'summary',
      samples: [],
    };
    for (const [k, d] of sorted(this.durations)) {
      const [method, route] = JSON.parse(k) as [string, string];
      duration.samples.push({ labels: { method, route }, value: d.sum, suffix: '_sum' });
      duration.samples.push({ labels: { method, route }, value: d.count, suffix: '_count' });
    }
    const events: Family = {
      name: 'agov_bus_events_total',
      help: "The gateway bus's message counters, by event.",
      type: 'counter',
      samples: [],
    };
    const rejected: Family = {
      name: 'agov_bus_rejected_total',
      help: 'Messages the gateway bus refused (undecodable, invalid, unhandled), by error code.',
      type: 'counter',
      samples: [],
    };
    const deadLettered: Family = {
      name: 'agov_bus_dead_lettered_total',
      help: 'Messages the gateway bus dead-lettered on gov.dlq.<code>, by error code.',
      type: 'counter',
      samples: [],
    };
    for (const [name, value] of Object.entries(bus.counters).sort(([a], [b]) => a.localeCompare(b))) {
      if (name.startsWith('rejected.'))
        rejected.samples.push({ labels: { code: name.slice('rejected.'.length) }, value });
      else if (name.startsWith('dead-lettered.'))
        deadLettered.samples.push({ labels: { code: name.slice('dead-lettered.'.length) }, value });
      else if (name !== 'dead-lettered') events.samples.push({ labels: { event: name }, value });
    }
    return renderFamilies([
      http,
      duration,
      {
        name: 'agov_gateway_audit_failures_total',
        help: 'Audit records of state-changing calls that JetStream did not confirm.',
        type: 'counter',
        samples: [{ labels: {}, value: this.auditFailures }],
      },
      {
        name: 'agov_gateway_bus_connected',
        help: '1 while the gateway is connected to NATS.',
        type: 'gauge',
        samples: [{ labels: {}, value: bus.connected ? 1 : 0 }],
      },
      events,
      rejected,
      deadLettered,
    ]);
  }
}
