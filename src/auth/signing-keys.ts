import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type JsonWebKey, type KeyObject } from "node:crypto";
import { loadOrCreateSecretFile } from "../store/secret-file.js";

/** Access-token algorithms we sign with; both verify with stock JOSE libraries. */
export const SIGNING_ALGORITHMS = ["ES256", "EdDSA"] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

/** One key of `SESSION_SIGNING_KEYS`. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly privateKey: KeyObject;
  /** What `/.well-known/jwks.json` publishes for it: the public half only. */
  readonly publicJwk: JsonWebKey & { kid: string; alg: SigningAlgorithm; use: "sig" };
}

export type SigningKeySet = readonly [SigningKey, ...SigningKey[]];

/** The curve of each algorithm we accept; anything else (RSA, HMAC, other curves) is refused. */
const CURVE_OF: Record<SigningAlgorithm, { kty: string; crv: string }> = {
  ES256: { kty: "EC", crv: "P-256" },
  EdDSA: { kty: "OKP", crv: "Ed25519" },
};

/**
 * Parses `SESSION_SIGNING_KEYS`: a JWK set (`{"keys": [...]}`) of private
 * P-256 or Ed25519 keys, each with a unique `kid`. The first key signs; every
 * key verifies, so a new key goes first and the old one stays until the
 * tokens it signed have expired. Returns a problem that names a key by its
 * position, never by content.
 */
export function parseSigningKeys(text: string): { ok: true; keys: SigningKeySet } | { ok: false; problem: string } {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return { ok: false, problem: 'must be a JSON Web Key Set: {"keys": [...]}' };
  }
  const entries = (document as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(entries) || entries.length === 0) return { ok: false, problem: 'must be a JSON Web Key Set with at least one key: {"keys": [...]}' };
  const keys: SigningKey[] = [];
  for (const [index, entry] of entries.entries()) {
    const key = parseSigningKey(entry);
    if (typeof key === "string") return { ok: false, problem: `key ${index + 1} ${key}` };
    if (keys.some((known) => known.kid === key.kid)) return { ok: false, problem: `key ${index + 1} repeats the kid of an earlier key` };
    keys.push(key);
  }
  const [first, ...others] = keys;
  return first ? { ok: true, keys: [first, ...others] } : { ok: false, problem: "must hold at least one key" };
}

function parseSigningKey(entry: unknown): SigningKey | string {
  if (typeof entry !== "object" || entry === null) return "must be a JSON object";
  const jwk = entry as Record<string, unknown>;
  if (typeof jwk.kid !== "string" || jwk.kid.trim() === "") return "must have a kid";
  if (jwk.use !== undefined && jwk.use !== "sig") return 'must have use "sig" when use is given';
  const alg = (Object.keys(CURVE_OF) as SigningAlgorithm[]).find((candidate) => CURVE_OF[candidate].kty === jwk.kty && CURVE_OF[candidate].crv === jwk.crv);
  if (!alg) return "must be an EC P-256 (ES256) or OKP Ed25519 (EdDSA) key";
  // RFC 8037 names Ed25519 signatures "EdDSA"; newer registries also say "Ed25519".
  if (jwk.alg !== undefined && jwk.alg !== alg && !(alg === "EdDSA" && jwk.alg === "Ed25519")) return `must have alg ${alg} for its curve`;
  if (typeof jwk.d !== "string") return "must be a private key (with d)";
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: jwk as JsonWebKey, format: "jwk" });
  } catch {
    return "is not a valid private key";
  }
  const publicJwk = { ...createPublicKey(privateKey).export({ format: "jwk" }), kid: jwk.kid, alg, use: "sig" as const };
  return { kid: jwk.kid, alg, privateKey, publicJwk };
}

/** A new ES256 key set of one key, as `SESSION_SIGNING_KEYS` text. */
export function generateSigningKeySetText(): string {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  // Dated kids tell operators at a glance which key is older during a rotation.
  const kid = `${new Date().toISOString().slice(0, 10)}-${randomBytes(4).toString("hex")}`;
  const jwk = { ...privateKey.export({ format: "jwk" }), kid, alg: "ES256", use: "sig" };
  return `${JSON.stringify({ keys: [jwk] }, null, 2)}\n`;
}

/** The development signing key: generated once and kept under DATA_DIR, so sessions survive a restart. */
export function loadOrCreateSigningKeyFile(file: string): Promise<SigningKeySet> {
  return loadOrCreateSecretFile(file, {
    parse(text) {
      const parsed = parseSigningKeys(text);
      return parsed.ok ? parsed.keys : undefined;
    },
    generate() {
      const text = generateSigningKeySetText();
      const parsed = parseSigningKeys(text);
      if (!parsed.ok) throw new Error(`generated signing key is invalid: ${parsed.problem}`);
      return { secret: parsed.keys, text };
    },
  });
}
