import { sign as signWithKey } from "node:crypto";
import { createLocalJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from "jose";
import { LRUCache } from "lru-cache";
import { validate as validateUuid } from "uuid";
import { SIGNING_ALGORITHMS, type SigningKeySet } from "./signing-keys.js";

/** Clock difference tolerated between us and the services that verify our tokens (and between our instances). */
const CLOCK_TOLERANCE_SECONDS = 5;
/** Tokens remembered as verified (about 200 bytes each beside the token): the clients active within a token's lifetime. */
const VERIFIED_TOKENS_KEPT = 20_000;

export interface AccessTokenSettings {
  readonly keys: SigningKeySet;
  /** `iss`: the gateway's public base URL; `jwks_uri` is derived from it. */
  readonly issuer: string;
  /** `aud`: the API the tokens are meant for. */
  readonly audience: string;
  readonly ttlSeconds: number;
}

/** What an access token says, beyond issuer and audience. */
export interface AccessTokenClaims {
  readonly userId: string;
  readonly sessionId: string;
  /** `jti`: unique per token, stored beside the refresh token issued with it. */
  readonly tokenId: string;
  /** E.164 phone number of the user; verified, or there would be no user. */
  readonly phoneNumber: string;
  /** `iat`; `exp` follows from it and the TTL. */
  readonly issuedAt: Date;
}

export type AccessTokenCheck =
  | { ok: true; userId: string; sessionId: string }
  | { ok: false; reason: "expired" | "invalid" };

/**
 * Signs and verifies the gateway's access tokens: JWTs any service checks
 * against `/.well-known/jwks.json`. Which signing key verifies a token is
 * chosen by its `kid`, so tokens signed before a key rotation stay valid.
 */
export class AccessTokens {
  private readonly localKeySet: JWTVerifyGetKey;
  /**
   * Tokens whose signature and claims checked out, until they expire: a client sends one token with every request
   * for its lifetime, and verifying its signature each time was an eighth of a `me` request's CPU (WebCrypto on
   * Node 20). Only valid tokens are kept; the keys that verify them are fixed for the process's life.
   */
  private readonly verified = new LRUCache<string, { check: Extract<AccessTokenCheck, { ok: true }>; validUntilMs: number }>({ max: VERIFIED_TOKENS_KEPT });

  /** The signing key's JWS header, encoded once. */
  private readonly protectedHeader: string;

  constructor(private readonly settings: AccessTokenSettings) {
    this.localKeySet = createLocalJWKSet(this.jwks());
    const { alg, kid } = settings.keys[0];
    this.protectedHeader = Buffer.from(JSON.stringify({ alg, kid, typ: "JWT" })).toString("base64url");
  }

  get issuer(): string {
    return this.settings.issuer;
  }

  /** The public JWK set; every configured key, signing key first. */
  jwks(): { keys: Array<SigningKeySet[number]["publicJwk"]> } {
    return { keys: this.settings.keys.map((key) => key.publicJwk) };
  }

  /**
   * A JWS compact serialization (RFC 7515) signed with node:crypto's one-shot `sign`: jose signs through WebCrypto,
   * whose asynchronous job cost a refresh 14 % of its CPU on Node 20 (profiled); jose still verifies, and the tests
   * verify what this signs with stock verifiers.
   */
  async sign(claims: AccessTokenClaims): Promise<{ token: string; expiresAt: Date }> {
    const issuedAt = Math.floor(claims.issuedAt.getTime() / 1000);
    const expiresAt = issuedAt + this.settings.ttlSeconds;
    const payload = {
      iss: this.settings.issuer,
      aud: this.settings.audience,
      sub: claims.userId,
      sid: claims.sessionId,
      jti: claims.tokenId,
      phone_number: claims.phoneNumber,
      phone_number_verified: true,
      iat: issuedAt,
      exp: expiresAt,
    };
    const signingInput = `${this.protectedHeader}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}`;
    const { alg, privateKey } = this.settings.keys[0];
    // ES256 signs a SHA-256 digest, its signature R || S (not DER); Ed25519 hashes by itself.
    const signature = signWithKey(alg === "ES256" ? "sha256" : null, Buffer.from(signingInput), { key: privateKey, dsaEncoding: "ieee-p1363" });
    return { token: `${signingInput}.${signature.toString("base64url")}`, expiresAt: new Date(expiresAt * 1000) };
  }

  /** Checks signature, issuer, audience and lifetime; says nothing about revocation (the session store does). */
  async verify(token: string): Promise<AccessTokenCheck> {
    const known = this.verified.get(token);
    // By the wall clock, as jwtVerify judges exp (the cache's own TTL runs on a monotonic clock, which a suspended VM stops).
    if (known && Date.now() < known.validUntilMs) return known.check;
    try {
      const { payload } = await jwtVerify(token, this.localKeySet, {
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        algorithms: [...SIGNING_ALGORITHMS],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ["sub", "sid", "jti", "iat", "exp"],
      });
      // We only sign UUIDs; anything else (a token signed with a leaked or test key) must not reach a uuid column.
      if (!isUuid(payload.sub) || !isUuid(payload.sid)) return { ok: false, reason: "invalid" };
      const check = { ok: true as const, userId: payload.sub, sessionId: payload.sid };
      // Kept until it expires as jwtVerify judges expiry (exp plus the tolerance); requiredClaims made exp a number.
      const validUntilMs = (payload.exp! + CLOCK_TOLERANCE_SECONDS) * 1000;
      const validForMs = validUntilMs - Date.now();
      if (validForMs > 0) this.verified.set(token, { check, validUntilMs }, { ttl: validForMs });
      return check;
    } catch (error) {
      if (error instanceof errors.JWTExpired) return { ok: false, reason: "expired" };
      if (error instanceof errors.JOSEError) return { ok: false, reason: "invalid" };
      throw error;
    }
  }
}

function isUuid(value: unknown): value is string {
  return typeof value === "string" && validateUuid(value);
}
