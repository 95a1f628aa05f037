import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type NatsServer, startNatsServer } from '../../infra/nats-server.ts';
import { type RedisServer, startRedisServer } from '../../infra/redis-server.ts';
import { type RunningSystem, type StartSystemOptions, startSystem } from '../../system/index.ts';

/**
 * Real servers for one test file: each call starts its own nats-server (JetStream) or redis-server
 * on a free port with data in a fresh temp folder, so a test may kill or restart it freely.
 * `stopAll()` (call it in afterAll) stops every server and removes the folders.
 */
export class TestServers {
  private readonly stops: Array<() => Promise<void>> = [];

  tempDir(prefix = 'agov-test-'): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.stops.push(async () => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  async nats(extraConfig?: string): Promise<NatsServer> {
    const server = await startNatsServer({ dataDir: this.tempDir('agov-nats-'), extraConfig });
    this.stops.push(() => server.kill());
    return server;
  }

  async redis(): Promise<RedisServer> {
    const server = await startRedisServer({ dataDir: this.tempDir('agov-redis-') });
    this.stops.push(() => server.kill());
    return server;
  }

  /**
   * A whole system, started the one way systems start (`startSystem`), on embedded servers of its
   * own in a temp folder, whatever the environment says; killed and removed by `stopAll()`.
   */
  async system(options: Omit<StartSystemOptions, 'dataDir'> = {}): Promise<RunningSystem> {
    const sys = await startSystem({ ...options, dataDir: this.tempDir('agov-system-') });
    this.stops.push(() => sys.kill());
    return sys;
  }

  /** Registers extra teardown, run in reverse order of registration. */
  onStop(fn: () => Promise<void> | void): void {
    this.stops.push(async () => fn());
  }

  async stopAll(): Promise<void> {
    for (const stop of this.stops.reverse()) {
      try {
        await stop();
      } catch {
        // teardown keeps going: one failure must not leak the other servers
      }
    }
    this.stops.length = 0;
  }
}
