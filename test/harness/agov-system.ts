/**
 * A whole system as a user starts it: `agov up` on a data folder of its own (embedded services), with
 * the teams given, and the `agov` CLI as a process against it. `agov up` leads its own process group,
 * so `kill` reaches every process it started (embedded nats-server, redis-server, Vault, every actor).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectionFilePath, readConnectionFile } from '../../cli/connection-file.ts';
import { loadOrCreateNatsAuthority, registerAuthority } from '../../infra/nats-auth/index.ts';
import type { TestServers } from './servers.ts';
import { waitFor } from './wait-for.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const AGOV = join(ROOT, 'cli/agov.mjs');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class AgovSystem {
  readonly dataDir: string;
  private readonly teamsFile: string;
  private readonly live: ChildProcess[] = [];

  /** A data folder from `servers` (removed with it) holding `teamsYaml` as the teams file. */
  constructor(servers: TestServers, prefix: string, teamsYaml: string) {
    this.dataDir = servers.tempDir(prefix);
    this.teamsFile = join(this.dataDir, 'teams.yaml');
    writeFileSync(this.teamsFile, teamsYaml);
  }

  /** The environment of every process: this data folder and teams, nothing of an outer system. */
  private env(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      AGOV_DATA_DIR: this.dataDir,
      AGOV_TEAMS: this.teamsFile,
      AGOV_HTTP_PORT: '0',
    };
    for (const k of ['NATS_URL', 'REDIS_URL', 'VAULT_ADDR', 'VAULT_TOKEN', 'PIPELINE_ID']) delete env[k];
    return env;
  }

  /** Starts `agov up` and waits for its connection file; this process then connects as admin. */
  async up(): Promise<{ proc: ChildProcess; natsUrl: string }> {
    rmSync(connectionFilePath(this.dataDir), { force: true });
    const proc = spawn(process.execPath, [AGOV, 'up'], {
      cwd: ROOT,
      env: this.env(),
      detached: true,
      stdio: 'ignore',
    });
    this.live.push(proc);
    await waitFor(
      'agov up wrote its connection file',
      () => existsSync(connectionFilePath(this.dataDir)),
      150_000,
      200,
    );
    const natsUrl = readConnectionFile(this.dataDir).natsUrl;
    // The operator of this machine can read the system's NATS keys: the test connects as admin.
    registerAuthority(natsUrl, await loadOrCreateNatsAuthority(join(this.dataDir, 'nats-auth')));
    return { proc, natsUrl };
  }

  /** SIGKILLs `proc`'s whole process group; resolves once `proc` has exited. */
  kill(proc: ChildProcess): Promise<void> {
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    process.kill(-proc.pid!, 'SIGKILL');
    return exited;
  }

  /** Runs `agov ARGS` as a process against the system at `natsUrl`, with `input` on its stdin. */
  agov(args: string[], natsUrl: string, input = ''): Promise<CliResult> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [AGOV, ...args], {
        cwd: ROOT,
        env: { ...this.env(), NATS_URL: natsUrl },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => {
        stdout += d;
      });
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
      child.stdin.end(input);
    });
  }

  /** Kills every system this rig started that is still running. */
  async stop(): Promise<void> {
    for (const p of this.live)
      if (p.exitCode === null && p.signalCode === null) await this.kill(p).catch(() => undefined);
  }
}
