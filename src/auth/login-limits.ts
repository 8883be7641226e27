import ipaddr from "ipaddr.js";
import type { KeyedHash } from "../store/keyed-hash.js";
import type { LoginRateLimits, RateDecision } from "../store/rate-limits.js";
import type { ClientInfo } from "./login-audit.js";
import type { LoginOutcome } from "./login-outcome.js";

/** Outcomes that mean someone presented a wrong proof: what code stuffing produces. */
const FAILED_VERIFICATIONS: ReadonlySet<LoginOutcome["kind"]> = new Set([
  "InvalidInput",
  "InvalidCode",
  "InvalidVerifier",
  "InvalidState",
  "InvalidIdToken",
  "InvalidSignedProfile",
]);

const ALLOWED: RateDecision = { allowed: true };
/** An IPv6 client usually holds a whole /64: it is one client. */
const IPV6_CLIENT_PREFIX = 64;

/** The address a client is counted by: IPv4 as is (also when IPv4-mapped), IPv6 by its /64. */
export function clientAddress(ip: string): string {
  if (!ipaddr.isValid(ip)) return ip;
  const address = ipaddr.process(ip);
  if (address.kind() === "ipv4") return address.toString();
  const bytes = address.toByteArray().slice(0, IPV6_CLIENT_PREFIX / 8);
  return `${Buffer.from(bytes).toString("hex")}/${IPV6_CLIENT_PREFIX}`;
}

/** The abuse limits of logins, keyed by hashes of the client's address and of the phone number. */
export class LoginLimits {
  constructor(
    private readonly limits: LoginRateLimits,
    private readonly hash: KeyedHash,
  ) {}

  /** Before anything else: is this client within its attempts and its failures? */
  admitClient(client: ClientInfo): Promise<RateDecision> {
    return client.ip === undefined ? Promise.resolve(ALLOWED) : this.limits.admitClient(this.clientKey(client.ip));
  }

  /** Before issuing a login state: is this client within its startLogin calls? */
  admitChallenge(client: ClientInfo): Promise<RateDecision> {
    return client.ip === undefined ? Promise.resolve(ALLOWED) : this.limits.admitChallenge(this.clientKey(client.ip));
  }

  /** After the outcome of an admitted attempt: a wrong proof counts against the client. */
  async observe(client: ClientInfo, outcome: LoginOutcome): Promise<void> {
    if (client.ip !== undefined) await this.limits.settle(this.clientKey(client.ip), FAILED_VERIFICATIONS.has(outcome.kind));
  }

  /** Before storing a retried login (already counted): is this number within its logins? */
  checkNumber(e164: string): Promise<RateDecision> {
    return this.limits.checkNumber(this.numberKey(e164));
  }

  /** Before storing a login: takes one of the number's logins, refused when there is none left. */
  reserveNumberLogin(e164: string): Promise<RateDecision> {
    return this.limits.reserveNumberLogin(this.numberKey(e164));
  }

  /** Gives back the login {@link reserveNumberLogin} took, when it could not be stored. */
  releaseNumberLogin(e164: string): Promise<void> {
    return this.limits.releaseNumberLogin(this.numberKey(e164));
  }

  private clientKey(ip: string): string {
    return this.hash.digest("client", clientAddress(ip));
  }

  private numberKey(e164: string): string {
    return this.hash.digest("number", e164);
  }
}
