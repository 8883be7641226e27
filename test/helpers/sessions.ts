import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { NewSession, RefreshTokenRecord } from "../../src/store/session.repository.js";
import type { VerifiedLogin } from "../../src/store/user.repository.js";
import { TokenCipher, type EncryptionKey } from "../../src/store/token-cipher.js";

const DAY_MS = 86_400_000;

/** A refresh token record as the session service makes one: a random token's hash, issued at `issuedAt`. */
export function refreshTokenRecord(issuedAt = new Date(), lifetimeMs = 30 * DAY_MS): RefreshTokenRecord {
  return {
    hash: createHash("sha256").update(randomBytes(32)).digest(),
    accessTokenId: randomUUID(),
    issuedAt,
    expiresAt: new Date(issuedAt.getTime() + lifetimeMs),
  };
}

/** A session for a login to open, as the session service makes one. */
export function newSessionRecord(createdAt = new Date(), lifetimeMs?: number): NewSession {
  return { id: randomUUID(), createdAt, refreshToken: refreshTokenRecord(createdAt, lifetimeMs) };
}

/** A fresh random encryption key. */
export function testEncryptionKey(id = "test"): EncryptionKey {
  return { id, key: randomBytes(32) };
}

/** A cipher with a fresh random key, for repositories that seal provider tokens. */
export function testTokenCipher(): TokenCipher {
  return new TokenCipher([testEncryptionKey()]);
}

/** A Truecaller login of `phoneNumber` by account `subject`, with no profile fields. */
export function verifiedLogin(phoneNumber: string, subject: string): VerifiedLogin {
  return {
    phoneNumber,
    countryCode: "IN",
    provider: "truecaller",
    subject,
    givenName: undefined,
    familyName: undefined,
    email: undefined,
    picture: undefined,
    gender: undefined,
    addressLocality: undefined,
    addressPostalCode: undefined,
    refreshToken: undefined,
  };
}
