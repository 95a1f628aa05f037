/**
 * Signed checkpoints in the C2SP tlog-checkpoint / signed-note text form:
 *
 *   <origin>\n
 *   <size, decimal>\n
 *   <root hash, base64>\n
 *   ts <milliseconds since epoch>\n          (one extension line: the checkpoint time)
 *   \n
 *   — <key name> <base64(key ID (4 bytes, big-endian) || Ed25519 signature (64 bytes))>\n
 *
 * The signature is Ed25519 over the note text (the first four lines, final newline included).
 * Key ID = SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4], as signed-note recommends.
 */
import {
  type KeyObject,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as edSign,
  verify as edVerify,
} from 'node:crypto';
import { ConfigError, DecodeError } from '../../protocols/vocabulary/index.ts';
import { HASH_SIZE, sha256 } from './merkle.ts';

export interface Checkpoint {
  origin: string;
  size: number;
  root: Buffer;
  /** Milliseconds since the epoch. */
  ts: number;
}

export interface SignedCheckpoint extends Checkpoint {
  keyName: string;
  /** 4-byte key ID, hex. */
  keyId: string;
  /** 64-byte Ed25519 signature over {@link checkpointText}. */
  signature: Buffer;
}

export interface CheckpointSigner {
  readonly keyName: string;
  readonly keyId: string;
  readonly publicKey: KeyObject;
  sign(cp: Checkpoint): SignedCheckpoint;
  /** Signs a statement that is not a checkpoint (an evidence package's); see evidenceStatement. */
  signText?(text: string): Buffer;
}

/**
 * A signer whose private key lives elsewhere (Vault transit): signing is a request, so it is async and
 * happens outside the store's transactions. A local {@link CheckpointSigner} fits through {@link asAsyncSigner}.
 */
export interface RemoteCheckpointSigner {
  readonly keyName: string;
  readonly keyId: string;
  readonly publicKey: KeyObject;
  sign(cp: Checkpoint): Promise<SignedCheckpoint>;
  /** Signs a statement that is not a checkpoint (an evidence package's); see evidenceStatement. */
  signText?(text: string): Promise<Buffer>;
}

export function asAsyncSigner(signer: CheckpointSigner): RemoteCheckpointSigner {
  return {
    keyName: signer.keyName,
    keyId: signer.keyId,
    publicKey: signer.publicKey,
    sign: async (cp) => signer.sign(cp),
    ...(signer.signText ? { signText: async (text: string) => signer.signText!(text) } : {}),
  };
}

const ED25519_TYPE = 0x01;
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const EM_DASH = '\u2014';

function checkName(what: string, s: string): void {
  if (s.length === 0 || /[\s+]/u.test(s) || /\p{Cc}/u.test(s)) {
    throw new ConfigError(`${what} "${s}" must be non-empty, without spaces, '+' or control characters`);
  }
}

/** The signed note text of a checkpoint. */
export function checkpointText(cp: Checkpoint): string {
  checkName('checkpoint origin', cp.origin);
  if (!Number.isSafeInteger(cp.size) || cp.size < 0) throw new RangeError(`bad checkpoint size ${cp.size}`);
  if (cp.root.length !== HASH_SIZE) throw new RangeError('checkpoint root must be 32 bytes');
  if (!Number.isSafeInteger(cp.ts) || cp.ts < 0) throw new RangeError(`bad checkpoint ts ${cp.ts}`);
  return `${cp.origin}\n${cp.size}\n${cp.root.toString('base64')}\nts ${cp.ts}\n`;
}

/** The full signed note: text, blank line, signature line. */
export function formatSignedCheckpoint(sc: SignedCheckpoint): string {
  const blob = Buffer.concat([Buffer.from(sc.keyId, 'hex'), sc.signature]).toString('base64');
  return `${checkpointText(sc)}\n${EM_DASH} ${sc.keyName} ${blob}\n`;
}

/** True for ASCII control characters other than newline (signed-note forbids them). */
function hasControlChars(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x0a) || c === 0x7f) return true;
  }
  return false;
}

/** Parses a signed checkpoint note (does not verify the signature). Strict: only the canonical form parses. */
export function parseSignedCheckpoint(text: string): SignedCheckpoint {
  const fail = (why: string): never => {
    throw new DecodeError(`signed checkpoint: ${why}`);
  };
  if (hasControlChars(text)) fail('control characters');
  const sep = text.indexOf('\n\n');
  if (sep < 0) fail('no blank line before the signature');
  const body = text.slice(0, sep + 1);
  const sigPart = text.slice(sep + 2);
  const lines = body.slice(0, -1).split('\n');
  if (lines.length !== 4) fail(`expected 4 text lines, got ${lines.length}`);
  const [origin, sizeS, rootS, tsLine] = lines as [string, string, string, string];
  if (!/^(0|[1-9][0-9]*)$/.test(sizeS)) fail('size is not a decimal without leading zeroes');
  const root = Buffer.from(rootS, 'base64');
  if (root.length !== HASH_SIZE || root.toString('base64') !== rootS) fail('root is not base64 of 32 bytes');
  const tsM = /^ts (0|[1-9][0-9]*)$/.exec(tsLine);
  if (!tsM) fail('missing "ts <ms>" line');
  const sigM = /^\u2014 (\S+) (\S+)\n$/u.exec(sigPart);
  if (!sigM) fail('expected exactly one signature line "— <name> <base64>"');
  const blob = Buffer.from(sigM![2]!, 'base64');
  if (blob.length !== 4 + 64 || blob.toString('base64') !== sigM![2])
    fail('signature is not base64 of key ID + 64 bytes');
  const cp: SignedCheckpoint = {
    origin,
    size: Number(sizeS),
    root,
    ts: Number(tsM![1]),
    keyName: sigM![1]!,
    keyId: blob.subarray(0, 4).toString('hex'),
    signature: blob.subarray(4),
  };
  if (!Number.isSafeInteger(cp.size) || !Number.isSafeInteger(cp.ts)) fail('number out of range');
  let again = '';
  try {
    again = formatSignedCheckpoint(cp);
  } catch (err) {
    fail((err as Error).message);
  }
  if (again !== text) fail('not in canonical form');
  return cp;
}

/** C2SP signed-note key ID of an Ed25519 key: hex of SHA-256(name || 0x0A || 0x01 || pub)[:4]. */
export function keyIdFor(keyName: string, publicKey: KeyObject): string {
  return sha256(Buffer.from(`${keyName}\n`, 'utf8'), Buffer.from([ED25519_TYPE]), rawPublicKey(publicKey))
    .subarray(0, 4)
    .toString('hex');
}

/** The 32 raw bytes of an Ed25519 public key. */
export function rawPublicKey(key: KeyObject): Buffer {
  const der = key.export({ format: 'der', type: 'spki' });
  return Buffer.from(der.subarray(der.length - 32));
}

/** SPKI PEM text of a public key. */
export function publicKeyPem(key: KeyObject): string {
  return key.export({ format: 'pem', type: 'spki' }).toString();
}

function decodeRaw32(s: string): Buffer | undefined {
  const t = s.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(t)) {
    const b = Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (b.length === 32) return b;
  }
  return undefined;
}

/** Private key from configuration: PKCS#8 PEM, or a raw 32-byte Ed25519 seed in hex or base64. */
export function loadPrivateKey(material: string | Buffer | KeyObject): KeyObject {
  try {
    if (typeof material === 'object' && !Buffer.isBuffer(material)) return assertEd25519(material, 'private');
    if (Buffer.isBuffer(material) && material.length === 32) {
      return createPrivateKey({
        key: Buffer.concat([PKCS8_ED25519_PREFIX, material]),
        format: 'der',
        type: 'pkcs8',
      });
    }
    const text = material.toString();
    if (text.includes('-----BEGIN')) return assertEd25519(createPrivateKey(text), 'private');
    const seed = decodeRaw32(text);
    if (!seed) throw new Error('neither PEM nor a 32-byte hex/base64 seed');
    return createPrivateKey({
      key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
      format: 'der',
      type: 'pkcs8',
    });
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(
      'ledger signing key: expected an Ed25519 PKCS#8 PEM or a 32-byte seed (hex/base64)',
      {
        cause: err,
      },
    );
  }
}

/** Public key: SPKI PEM, raw 32 bytes (hex/base64/Buffer), or a KeyObject (a private key yields its public half). */
export function loadPublicKey(material: string | Buffer | KeyObject): KeyObject {
  try {
    if (typeof material === 'object' && !Buffer.isBuffer(material)) {
      return assertEd25519(material.type === 'private' ? createPublicKey(material) : material, 'public');
    }
    if (Buffer.isBuffer(material) && material.length === 32) {
      return createPublicKey({
        key: Buffer.concat([SPKI_ED25519_PREFIX, material]),
        format: 'der',
        type: 'spki',
      });
    }
    const text = material.toString();
    if (text.includes('-----BEGIN')) return assertEd25519(createPublicKey(text), 'public');
    const raw = decodeRaw32(text);
    if (!raw) throw new Error('neither PEM nor 32 raw bytes in hex/base64');
    return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError('ledger public key: expected an Ed25519 SPKI PEM or 32 raw bytes (hex/base64)', {
      cause: err,
    });
  }
}

function assertEd25519(key: KeyObject, type: 'public' | 'private'): KeyObject {
  if (key.asymmetricKeyType !== 'ed25519')
    throw new ConfigError(`ledger key is ${key.asymmetricKeyType}, not ed25519`);
  if (type === 'private' && key.type !== 'private')
    throw new ConfigError('ledger signing key is not a private key');
  return key;
}

export interface GeneratedKeyPair {
  privateKeyPem: string;
  publicKeyPem: string;
  /** Raw 32-byte seed, hex: the form `LEDGER_SIGNING_KEY`-style configuration takes. */
  seedHex: string;
  publicKeyHex: string;
}

/** A fresh Ed25519 key pair in every form configuration accepts. */
export function generateKeyPair(): GeneratedKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
  return {
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKeyPem: publicKeyPem(publicKey),
    seedHex: Buffer.from(pkcs8.subarray(pkcs8.length - 32)).toString('hex'),
    publicKeyHex: rawPublicKey(publicKey).toString('hex'),
  };
}

/** A checkpoint signer for the given key; the key name is the checkpoint origin. */
export function createSigner(material: string | Buffer | KeyObject, keyName: string): CheckpointSigner {
  checkName('key name', keyName);
  const privateKey = loadPrivateKey(material);
  const publicKey = createPublicKey(privateKey);
  const keyId = keyIdFor(keyName, publicKey);
  return {
    keyName,
    keyId,
    publicKey,
    sign(cp) {
      if (cp.origin !== keyName)
        throw new ConfigError(`checkpoint origin "${cp.origin}" is not the key name "${keyName}"`);
      const signature = edSign(null, Buffer.from(checkpointText(cp), 'utf8'), privateKey);
      return { ...cp, root: Buffer.from(cp.root), keyName, keyId, signature };
    },
    signText: (text) => edSign(null, Buffer.from(text, 'utf8'), privateKey),
  };
}

/** Why a signed checkpoint does not verify under the key, or undefined when it does. */
export function checkpointSignatureProblem(sc: SignedCheckpoint, publicKey: KeyObject): string | undefined {
  if (sc.keyName !== sc.origin) return `key name "${sc.keyName}" is not the origin "${sc.origin}"`;
  const expectedId = keyIdFor(sc.keyName, publicKey);
  if (sc.keyId !== expectedId)
    return `key ID ${sc.keyId} is not the ID ${expectedId} of the given public key`;
  let text: string;
  try {
    text = checkpointText(sc);
  } catch (err) {
    return `malformed checkpoint: ${(err as Error).message}`;
  }
  if (sc.signature.length !== 64) return 'signature is not 64 bytes';
  const ok = edVerify(null, Buffer.from(text, 'utf8'), publicKey, sc.signature);
  return ok ? undefined : 'Ed25519 signature does not verify';
}

export function verifyCheckpoint(sc: SignedCheckpoint, publicKey: KeyObject): boolean {
  return checkpointSignatureProblem(sc, publicKey) === undefined;
}
