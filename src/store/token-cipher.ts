import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { loadOrCreateSecretFile } from "./secret-file.js";

/** One AES-256 key of the keyring, named so sealed values say which key opens them. */
export interface EncryptionKey {
  readonly id: string;
  readonly key: Buffer;
}

const KEY_BYTES = 32;
const IV_BYTES = 12;
/** GCM's full tag; without pinning it, Node accepts a tag cut to 4 bytes. */
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

/**
 * AES-256-GCM for provider tokens at rest. The first key seals; every key
 * opens, so keys rotate without losing what the old one sealed. The context
 * (e.g. the cache key) is authenticated data: a value copied under another
 * key does not open.
 */
export class TokenCipher {
  private readonly byId: ReadonlyMap<string, Buffer>;

  constructor(private readonly keys: readonly [EncryptionKey, ...EncryptionKey[]]) {
    this.byId = new Map(keys.map(({ id, key }) => [id, key]));
  }

  /** `<keyId>.<iv>.<ciphertext>.<tag>`, base64url parts. */
  seal(plaintext: string, context: string): string {
    const { id, key } = this.keys[0];
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", key, iv).setAAD(Buffer.from(context));
    const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return [id, iv, ciphertext, cipher.getAuthTag()].map((part) => (typeof part === "string" ? part : part.toString("base64url"))).join(".");
  }

  /** Whether `sealed` was sealed with the key that seals now (otherwise re-seal it before its key is retired). */
  sealedWithCurrentKey(sealed: string): boolean {
    return sealed.split(".", 1)[0] === this.keys[0].id;
  }

  /** The plaintext, or `undefined` when no key of the ring opens it (unknown key, tampering, other context). */
  open(sealed: string, context: string): string | undefined {
    const [id, iv, ciphertext, tag, ...rest] = sealed.split(".");
    const key = id === undefined ? undefined : this.byId.get(id);
    if (!key || iv === undefined || ciphertext === undefined || tag === undefined || rest.length > 0) return undefined;
    try {
      const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"), { authTagLength: TAG_BYTES }).setAAD(
        Buffer.from(context),
      );
      decipher.setAuthTag(Buffer.from(tag, "base64url"));
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, "base64url")), decipher.final()]).toString("utf8");
    } catch {
      return undefined;
    }
  }
}

/**
 * Parses `TOKEN_ENCRYPTION_KEYS`: comma-separated `id:base64key` entries, each
 * key 32 random bytes (`openssl rand -base64 32`). Returns `undefined` when the
 * value is malformed; the caller reports that without echoing it.
 */
export function parseKeyring(value: string): [EncryptionKey, ...EncryptionKey[]] | undefined {
  const keys: EncryptionKey[] = [];
  for (const entry of value.split(",").map((part) => part.trim()).filter((part) => part.length > 0)) {
    const separator = entry.indexOf(":");
    const id = entry.slice(0, separator);
    const key = Buffer.from(entry.slice(separator + 1), "base64");
    if (separator < 1 || !KEY_ID.test(id) || key.length !== KEY_BYTES || keys.some((known) => known.id === id)) return undefined;
    keys.push({ id, key });
  }
  const [first, ...others] = keys;
  return first ? [first, ...others] : undefined;
}

/** The development keyring: one key generated on first start and kept under DATA_DIR. */
export function loadOrCreateKeyFile(file: string): Promise<[EncryptionKey, ...EncryptionKey[]]> {
  return loadOrCreateSecretFile(file, {
    parse: parseKeyring,
    generate() {
      const key: EncryptionKey = { id: `dev-${randomBytes(4).toString("hex")}`, key: randomBytes(KEY_BYTES) };
      return { secret: [key], text: `${key.id}:${key.key.toString("base64")}\n` };
    },
  });
}
