import { createHmac, hkdfSync } from "node:crypto";
import type { EncryptionKey } from "./token-cipher.js";

const KEY_BYTES = 32;

/**
 * HMAC-SHA256 under a key derived (HKDF) from the current TOKEN_ENCRYPTION_KEYS
 * key for one purpose: how one-time values (authorization codes, login
 * states) are kept and looked up without storing them. After a key rotation
 * digests change: what was kept under the old key is not found any more, which
 * for values that live minutes is the right failure.
 */
export class KeyedHash {
  private readonly key: Buffer;

  constructor(keys: readonly [EncryptionKey, ...EncryptionKey[]], purpose: string) {
    this.key = Buffer.from(hkdfSync("sha256", keys[0].key, Buffer.alloc(0), `phonegate ${purpose} v1`, KEY_BYTES));
  }

  digest(...parts: readonly string[]): string {
    const hmac = createHmac("sha256", this.key);
    // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
    for (const part of parts) hmac.update(`${Buffer.byteLength(part)}:${part}`);
    return hmac.digest("base64url");
  }
}
