/**
 * A connection's state (connected, disconnected, reconnecting, closed) and the asynchronous errors
 * the server reports on it, for whoever listens (bus.ts `state`, `onStatus`, `onConnectionError`).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { BusMetrics } from './bus-metrics.ts';
import type { ConnectionState } from './connection.ts';

export class ConnectionWatch {
  private value: ConnectionState = 'connected';
  private readonly statusListeners = new Set<(s: ConnectionState) => void>();
  private readonly errorListeners = new Set<(error: string) => void>();

  constructor(
    nc: NatsConnection,
    private readonly metrics: BusMetrics,
  ) {
    void this.watch(nc);
  }

  get state(): ConnectionState {
    return this.value;
  }

  onStatus(listener: (s: ConnectionState) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  onError(listener: (error: string) => void): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  private set(s: ConnectionState) {
    if (this.value === s) return;
    this.value = s;
    this.metrics.inc(`connection.${s}`);
    for (const l of this.statusListeners) l(s);
  }

  private async watch(nc: NatsConnection) {
    const closed = nc.closed().then(() => this.set('closed'));
    for await (const s of nc.status()) {
      if (s.type === 'error') {
        this.metrics.inc('connection.error');
        for (const l of this.errorListeners) l(String(s.error));
      } else if (s.type === 'disconnect') this.set('disconnected');
      else if (s.type === 'reconnecting') this.set('reconnecting');
      else if (s.type === 'reconnect') this.set('connected');
    }
    await closed;
  }
}
