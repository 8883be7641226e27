import { errorSummary, type Logger } from "../logger.js";
import type { IdentityProviderId } from "../providers/provider.js";
import type { KeyedHash } from "../store/keyed-hash.js";
import type { LoginEventRepository } from "../store/login-events.js";
import type { LoginOutcome } from "./login-outcome.js";

/** How long a login's answer waits for its audit row. */
const AUDIT_WAIT_MS = 250;
/** Audit writes allowed to wait for the database at once. */
const MAX_WRITES_IN_FLIGHT = 100;

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

  /**
   * Writes the event, waiting at most a moment for it: with the database slow
   * or away the login's answer must not wait for its audit row (which then
   * lands later, or is logged as lost). Writes still running are capped, so a
   * flood of refused requests cannot pile up against a stalled database.
   */
  async record(provider: IdentityProviderId, outcome: LoginOutcome, client: ClientInfo): Promise<void> {
    if (this.writing.size >= MAX_WRITES_IN_FLIGHT) {
      this.logger.warn({ provider }, "login event not recorded: too many writes waiting for the database");
      return;
    }
    const write: Promise<void> = this.events
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
      })
      .finally(() => this.writing.delete(write));
    this.writing.add(write);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([write, new Promise<void>((resolve) => (timer = setTimeout(resolve, AUDIT_WAIT_MS)))]);
    clearTimeout(timer);
  }

  /** Resolves once every write started so far has finished (before the database closes on shutdown). */
  async settled(): Promise<void> {
    await Promise.all(this.writing);
  }

  private readonly writing = new Set<Promise<void>>();
}
