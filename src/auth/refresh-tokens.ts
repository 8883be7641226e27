import { createHash, createHmac, hkdfSync, randomBytes } from "node:crypto";
import type { EncryptionKey } from "../store/token-cipher.js";

const TOKEN_BYTES = 32;
/** 32 bytes in base64url without padding. */
const REFRESH_TOKEN_FORMAT = /^[A-Za-z0-9_-]{43}$/;
const SUCCESSOR_KEY_INFO = "phonegate refresh-token successor v1";

/** A new opaque refresh token: 256 random bits. */
export function newRefreshToken(): string {
  return randomBytes(TOKEN_BYTES).toString("base64url");
}

export function isWellFormedRefreshToken(token: string): boolean {
  return REFRESH_TOKEN_FORMAT.test(token);
}

/**
 * What the database keeps of a refresh token. Tokens are 256 random bits, so
 * a plain SHA-256 is as good as a keyed hash and needs no key to look one up.
 */
export function hashRefreshToken(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}

/**
 * Derives the token that replaces a refresh token on rotation, as an HMAC of
 * the old token under a key derived from `TOKEN_ENCRYPTION_KEYS`. Because the
 * successor follows from the old token, a duplicate refresh within the grace
 * window gets the very token the first one got, and the database still holds
 * hashes only. The key's id is stored with the rotation so a key rotation in
 * between does not change the answer.
 */
export class RefreshTokenSuccession {
  private readonly hmacKeys: ReadonlyMap<string, Buffer>;

  constructor(private readonly keys: readonly [EncryptionKey, ...EncryptionKey[]]) {
    this.hmacKeys = new Map(
      keys.map(({ id, key }) => [id, Buffer.from(hkdfSync("sha256", key, Buffer.alloc(0), SUCCESSOR_KEY_INFO, TOKEN_BYTES))]),
    );
  }

  /** The successor under the current key. */
  next(token: string): { token: string; keyId: string } {
    const keyId = this.keys[0].id;
    return { token: this.derive(token, keyId)!, keyId };
  }

  /** The successor derived earlier under `keyId`, or `undefined` when that key is gone from the keyring. */
  derive(token: string, keyId: string): string | undefined {
    const key = this.hmacKeys.get(keyId);
    return key && createHmac("sha256", key).update(token).digest("base64url");
  }
}
