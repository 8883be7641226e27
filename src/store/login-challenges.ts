import { randomBytes, timingSafeEqual } from "node:crypto";
import type { ProviderId } from "../providers/provider.js";
import type { KeyedHash } from "./keyed-hash.js";
import type { TtlCache } from "./ttl-cache.js";

/**
 * A state and a nonce are each one token of {@link TOKEN_BYTES} bytes in base64url:
 *
 *   version (1) | expiresAt, epoch ms, unsigned big-endian (6) | login id (16) | MAC (16)
 *
 * The MAC is the KeyedHash digest, cut to 128 bits, over a label ("state" or "nonce"), the version,
 * the expiry, the login id and the provider. So the provider is bound without taking a byte, a state
 * is no nonce (nor a nonce a state), and a state and its nonce share the login id, through which each
 * finds the one "used" marker of their login, without anything being kept when they are issued.
 */
const VERSION = 1;
const EXPIRY_BYTES = 6;
/** 128 random bits name one login (RFC 6749 §10.10: guessing one is 2^-128). */
const ID_BYTES = 16;
/** 128 bits of HMAC-SHA256, the truncation RFC 2104 §5 and NIST SP 800-107 §5.3.4 allow. */
const MAC_BYTES = 16;
const EXPIRY_OFFSET = 1;
const ID_OFFSET = EXPIRY_OFFSET + EXPIRY_BYTES;
const MAC_OFFSET = ID_OFFSET + ID_BYTES;
const TOKEN_BYTES = MAC_OFFSET + MAC_BYTES;
/**
 * 39 bytes are 52 base64url characters with no bits left over, so every token has one spelling only.
 * 52 fits Truecaller's `requestNonce` (base64url, 8 to 64 characters: SDK "Advanced Steps") and
 * is a valid OAuth `state` (RFC 6749 Appendix A.5) and OIDC nonce (OIDC Core §3.1.2.1).
 */
const TOKEN_SHAPE = new RegExp(`^[A-Za-z0-9_-]{${Math.ceil((TOKEN_BYTES * 4) / 3)}}$`);
/** What a "used" marker holds: its key is all that matters. */
const USED = "1";

type TokenLabel = "state" | "nonce";

/** What `startLogin` hands the app for one authorization request. */
export interface LoginChallenge {
  /** The OAuth `state` to send through the provider and back with the code. */
  readonly state: string;
  /** The nonce for the provider's ID token (OIDC, wgtwo) or Truecaller's `requestNonce`. */
  readonly nonce: string;
  readonly expiresAt: Date;
}

/** A state or nonce taken for a login, with the means to give it back when the login fails before using it. */
export interface UsedChallenge {
  readonly nonce: string;
  /** Puts the state and its nonce back for the rest of their lifetime (the login it was taken for did not happen). */
  restore(): Promise<void>;
}

/** The authenticated content of a state or nonce. */
interface Login {
  readonly provider: ProviderId;
  /** Epoch milliseconds. */
  readonly expiresAt: number;
  readonly id: Buffer;
}

/**
 * Login states and nonces this deployment issued, each good for one login
 * within its time to live, on every instance. They vouch for themselves (a
 * MAC under the KeyedHash key), so issuing one keeps nothing: only using one
 * writes, a marker under a digest of its login id that lives as long as the
 * state would have, so a cache dump gives nobody a usable state. Forged,
 * altered, expired and other providers' states are refused without asking the
 * cache. As with every KeyedHash value, rotating the first TOKEN_ENCRYPTION_KEYS
 * key invalidates the states then outstanding.
 */
export class LoginChallenges {
  constructor(
    private readonly cache: TtlCache,
    private readonly hash: KeyedHash,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** A new state and nonce for `provider`; nothing is kept, so it needs no cache (and costs a flood nothing). */
  issue(provider: ProviderId): LoginChallenge {
    const expiresAt = Math.trunc(this.now() + this.ttlMs);
    const login: Login = { provider, expiresAt, id: randomBytes(ID_BYTES) };
    return { state: this.seal("state", login), nonce: this.seal("nonce", login), expiresAt: new Date(expiresAt) };
  }

  /**
   * Uses a state up, and its nonce with it: the nonce when this deployment
   * issued the state for `provider` and it is unused and unexpired; `undefined`
   * otherwise. Of two logins presenting one state, one gets it. Rejects when
   * the cache does not answer for a state that passed every other check.
   */
  async useState(state: string, provider: ProviderId): Promise<UsedChallenge | undefined> {
    const login = this.open("state", state, provider);
    return login && this.use(login);
  }

  /** Uses a nonce up (Truecaller's `requestNonce`), and its state with it, when this deployment issued it for `provider`, unused and unexpired. */
  async useNonce(nonce: string, provider: ProviderId): Promise<UsedChallenge | undefined> {
    const login = this.open("nonce", nonce, provider);
    return login && this.use(login);
  }

  /** Claims the login's "used" marker for what is left of its lifetime; only the claim that sets it gets the login. */
  private async use(login: Login): Promise<UsedChallenge | undefined> {
    const key = this.usedKey(login.id);
    if (!(await this.cache.setIfAbsent(key, USED, login.expiresAt - this.now()))) return undefined;
    let restored = false;
    return {
      nonce: this.seal("nonce", login),
      restore: async () => {
        // Once only: a second call could free the login after another request had used it.
        if (restored) return;
        restored = true;
        if (login.expiresAt - this.now() >= 1) await this.cache.delete(key);
      },
    };
  }

  /** The token's login when its MAC holds under `label` and `provider` and it is not expired; `undefined` for anything else. */
  private open(label: TokenLabel, token: string, provider: ProviderId): Login | undefined {
    // The shape first: Buffer's base64url decoder skips what it does not know, so two spellings could decode alike.
    if (!TOKEN_SHAPE.test(token)) return undefined;
    const bytes = Buffer.from(token, "base64url");
    if (bytes.length !== TOKEN_BYTES || bytes[0] !== VERSION) return undefined;
    const login: Login = { provider, expiresAt: bytes.readUIntBE(EXPIRY_OFFSET, EXPIRY_BYTES), id: bytes.subarray(ID_OFFSET, MAC_OFFSET) };
    if (!timingSafeEqual(bytes.subarray(MAC_OFFSET), this.mac(label, login))) return undefined;
    return login.expiresAt - this.now() >= 1 ? login : undefined;
  }

  private seal(label: TokenLabel, login: Login): string {
    const bytes = Buffer.alloc(TOKEN_BYTES);
    bytes[0] = VERSION;
    bytes.writeUIntBE(login.expiresAt, EXPIRY_OFFSET, EXPIRY_BYTES);
    login.id.copy(bytes, ID_OFFSET);
    this.mac(label, login).copy(bytes, MAC_OFFSET);
    return bytes.toString("base64url");
  }

  private mac(label: TokenLabel, login: Login): Buffer {
    const digest = this.hash.digest(label, String(VERSION), String(login.expiresAt), login.id.toString("base64url"), login.provider);
    return Buffer.from(digest, "base64url").subarray(0, MAC_BYTES);
  }

  /** One marker for a login's state and nonce alike, named by a digest so the cache never holds a login id. */
  private usedKey(id: Buffer): string {
    return `login-used:${this.hash.digest("used", id.toString("base64url"))}`;
  }
}
