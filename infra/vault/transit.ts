/**
 * The transit secrets engine of the Vault dev server, for Ed25519 signing keys only: the ledger's
 * checkpoint key lives here, so its private half never leaves "Vault" (the process that serves this
 * API), never touches the ledger's data directory, and is used only through `transit/sign`.
 *
 * Endpoints (Vault's paths and shapes, mounted at `transit/`):
 * - `POST transit/keys/:name` `{type: "ed25519"}` creates a key (idempotent: an existing key is kept);
 * - `GET transit/keys/:name` reads it: `keys["1"].public_key` is the base64 raw 32-byte public key;
 * - `POST transit/sign/:name` `{input: base64}` → `{signature: "vault:v1:<base64>", key_version: 1}`;
 *   for Ed25519 Vault signs the input bytes themselves (no prehash), so the signature is a plain
 *   RFC 8032 signature any Ed25519 library verifies;
 * - `POST transit/verify/:name` `{input, signature}` → `{valid}`.
 * Other key types, rotation, export and encryption are refused with Vault's 400 shape.
 *
 * With `keyringFile` the keyring persists across restarts (mode 0600, written atomically); without
 * it, keys live in memory like `vault server -dev`.
 */
import {
  type KeyObject,
  createPrivateKey,
  createPublicKey,
  sign as edSign,
  verify as edVerify,
  generateKeyPairSync,
} from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Clock } from '../clock/clock.ts';
import { VaultApiError } from './api-error.ts';
import type { StoreResult } from './token-store.ts';

const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const KEY_NAME_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;

interface KeyVersion {
  seedHex: string;
  creationTime: string;
  privateKey: KeyObject;
  publicKeyB64: string;
}

interface TransitKey {
  name: string;
  versions: KeyVersion[];
}

interface KeyringFile {
  keys: Record<string, { versions: { seedHex: string; creationTime: string }[] }>;
}

export interface TransitEngineOptions {
  clock: Clock;
  /** Where the keyring persists; in memory only when omitted. */
  keyringFile?: string;
}

export type TransitOp = 'read' | 'update' | 'delete' | 'list';

export class TransitEngine {
  private readonly keys = new Map<string, TransitKey>();

  constructor(private readonly options: TransitEngineOptions) {
    const file = options.keyringFile;
    if (file && existsSync(file)) this.load(JSON.parse(readFileSync(file, 'utf8')) as KeyringFile);
  }

  /** The route for a `transit/…` path, undefined when the path is not transit's. */
  route(
    path: string,
    op: TransitOp,
  ):
    | { capability: 'read' | 'update' | 'list'; run(body: Record<string, unknown>): StoreResult }
    | 'unsupported-operation'
    | undefined {
    if (path === 'transit/keys') {
      return op === 'list'
        ? { capability: 'list', run: () => ({ data: { keys: [...this.keys.keys()].sort() } }) }
        : 'unsupported-operation';
    }
    const m = /^transit\/(keys|sign|verify)\/([^/]+)$/.exec(path);
    if (!m) return undefined;
    const [, what, rawName] = m;
    const name = decodeURIComponent(rawName ?? '');
    if (what === 'keys') {
      if (op === 'read')
        return { capability: 'read', run: () => ({ data: this.describe(this.mustGet(name, 404)) }) };
      if (op === 'update')
        return { capability: 'update', run: (b) => ({ data: this.describe(this.create(name, b)) }) };
      return 'unsupported-operation';
    }
    if (op !== 'update') return 'unsupported-operation';
    if (what === 'sign') return { capability: 'update', run: (b) => ({ data: this.sign(name, b) }) };
    return { capability: 'update', run: (b) => ({ data: this.verify(name, b) }) };
  }

  private create(name: string, body: Record<string, unknown>): TransitKey {
    if (!KEY_NAME_PATTERN.test(name)) throw new VaultApiError(400, ['invalid key name']);
    const type = body.type ?? 'aes256-gcm96';
    if (type !== 'ed25519') {
      throw new VaultApiError(400, [
        `key type "${String(type)}" is not supported by this dev server (ed25519 only)`,
      ]);
    }
    const existing = this.keys.get(name);
    if (existing) return existing;
    const { privateKey } = generateKeyPairSync('ed25519');
    const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
    const key: TransitKey = {
      name,
      versions: [
        this.version(
          pkcs8.subarray(pkcs8.length - 32).toString('hex'),
          new Date(this.options.clock.now()).toISOString(),
        ),
      ],
    };
    this.keys.set(name, key);
    this.save();
    return key;
  }

  private sign(name: string, body: Record<string, unknown>): Record<string, unknown> {
    const key = this.mustGet(name, 400);
    const input = base64Field(body, 'input');
    const v = versionOf(key, body.key_version);
    const signature = edSign(null, input, v.version.privateKey).toString('base64');
    return { signature: `vault:v${v.number}:${signature}`, key_version: v.number };
  }

  private verify(name: string, body: Record<string, unknown>): Record<string, unknown> {
    const key = this.mustGet(name, 400);
    const input = base64Field(body, 'input');
    const sig = body.signature;
    const m = typeof sig === 'string' ? /^vault:v(\d+):([A-Za-z0-9+/=]+)$/.exec(sig) : null;
    if (!m) throw new VaultApiError(400, ['invalid signature: missing "vault:v<N>:" prefix']);
    const v = versionOf(key, Number(m[1]));
    const publicKey = createPublicKey(v.version.privateKey);
    return { valid: edVerify(null, input, publicKey, Buffer.from(m[2] ?? '', 'base64')) };
  }

  private describe(key: TransitKey): Record<string, unknown> {
    const keys: Record<string, unknown> = {};
    key.versions.forEach((v, i) => {
      keys[String(i + 1)] = { creation_time: v.creationTime, name: 'ed25519', public_key: v.publicKeyB64 };
    });
    return {
      name: key.name,
      type: 'ed25519',
      keys,
      latest_version: key.versions.length,
      min_available_version: 0,
      min_decryption_version: 1,
      min_encryption_version: 0,
      deletion_allowed: false,
      derived: false,
      exportable: false,
      allow_plaintext_backup: false,
      imported_key: false,
      auto_rotate_period: 0,
      supports_encryption: false,
      supports_decryption: false,
      supports_derivation: true,
      supports_signing: true,
    };
  }

  private mustGet(name: string, status: 400 | 404): TransitKey {
    const key = this.keys.get(name);
    if (!key) throw new VaultApiError(status, status === 404 ? [] : ['signing key not found']);
    return key;
  }

  private version(seedHex: string, creationTime: string): KeyVersion {
    const privateKey = createPrivateKey({
      key: Buffer.concat([PKCS8_ED25519_PREFIX, Buffer.from(seedHex, 'hex')]),
      format: 'der',
      type: 'pkcs8',
    });
    const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
    return {
      seedHex,
      creationTime,
      privateKey,
      publicKeyB64: spki.subarray(spki.length - 32).toString('base64'),
    };
  }

  private load(file: KeyringFile): void {
    for (const [name, k] of Object.entries(file.keys ?? {})) {
      this.keys.set(name, { name, versions: k.versions.map((v) => this.version(v.seedHex, v.creationTime)) });
    }
  }

  private save(): void {
    const file = this.options.keyringFile;
    if (!file) return;
    const out: KeyringFile = { keys: {} };
    for (const [name, k] of this.keys) {
      out.keys[name] = {
        versions: k.versions.map((v) => ({ seedHex: v.seedHex, creationTime: v.creationTime })),
      };
    }
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, JSON.stringify(out), { mode: 0o600 });
    renameSync(tmp, file);
  }
}

function base64Field(body: Record<string, unknown>, field: string): Buffer {
  const v = body[field];
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) {
    throw new VaultApiError(400, [`invalid request: "${field}" must be base64`]);
  }
  return Buffer.from(v, 'base64');
}

function versionOf(key: TransitKey, requested: unknown): { version: KeyVersion; number: number } {
  const n =
    requested === undefined || requested === null || requested === 0
      ? key.versions.length
      : Number(requested);
  const version = Number.isSafeInteger(n) ? key.versions[n - 1] : undefined;
  if (!version) throw new VaultApiError(400, ['invalid key version']);
  return { version, number: n };
}
