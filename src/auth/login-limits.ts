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

/** The abuse limits of logins, keyed by hashes of the client's address and of the phone number. */
export class LoginLimits {
  constructor(
    private readonly limits: LoginRateLimits,
    private readonly hash: KeyedHash,
  ) {}

  /** Before anything else: is this client within its attempts and its failures? */
  admitClient(client: ClientInfo): Promise<RateDecision> {
    return client.ip === undefined ? Promise.resolve(ALLOWED) : this.limits.admitClient(this.hash.digest("client", client.ip));
  }

  /** Before storing a login: is this number within its logins? */
  admitNumber(e164: string): Promise<RateDecision> {
    return this.limits.admitNumber(this.hash.digest("number", e164));
  }

  /** After the outcome: counts a wrong proof against the client. */
  async observe(client: ClientInfo, outcome: LoginOutcome): Promise<void> {
    if (client.ip !== undefined && FAILED_VERIFICATIONS.has(outcome.kind)) await this.limits.recordFailure(this.hash.digest("client", client.ip));
  }
}
