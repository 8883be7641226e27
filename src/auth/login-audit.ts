import { errorSummary, type Logger } from "../logger.js";
import type { IdentityProviderId } from "../providers/provider.js";
import type { KeyedHash } from "../store/keyed-hash.js";
import type { LoginEventRepository } from "../store/login-events.js";
import type { LoginOutcome } from "./login-outcome.js";

/** Who sent a login request, as the audit trail keeps it. */
export interface ClientInfo {
  /** The client's address (from X-Forwarded-For only behind a trusted proxy). */
  readonly ip: string | undefined;
  readonly userAgent: string | undefined;
}

/** The outcome as clients see it: LOGIN_SUCCEEDED, or the ErrorCode of the union member they got (InvalidCode → INVALID_CODE). */
export function outcomeCode(kind: LoginOutcome["kind"]): string {
  return kind.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

/**
 * Writes one LoginEvent per verification attempt. The IP is kept as a keyed
 * hash: equal for one address (to see a burst from one client) but not
 * reversible by trying the IPv4 space. A failed write is logged, never the
 * login's failure.
 */
export class LoginAudit {
  constructor(
    private readonly events: LoginEventRepository,
    private readonly ipHash: KeyedHash,
    private readonly logger: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async record(provider: IdentityProviderId, outcome: LoginOutcome, client: ClientInfo): Promise<void> {
    await this.events
      .record({
        provider,
        outcome: outcomeCode(outcome.kind),
        userId: outcome.kind === "LoginSucceeded" ? outcome.user.id : undefined,
        ipHash: client.ip === undefined ? undefined : this.ipHash.digest(client.ip),
        userAgent: client.userAgent,
        at: this.now(),
      })
      .catch((error: unknown) => {
        this.logger.warn({ provider, error: errorSummary(error) }, "login event not recorded");
      });
  }
}
