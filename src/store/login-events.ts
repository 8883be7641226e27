import { v7 as uuidv7 } from "uuid";
import type { PrismaClient } from "../generated/prisma/client.js";

/** Longest user agent kept; longer ones are cut (they are for reading, not matching). */
const MAX_USER_AGENT_LENGTH = 256;
/** Rows deleted per statement when pruning, so a large backlog never holds long locks. */
const PRUNE_BATCH = 1_000;

/** One verification attempt as the audit trail records it. */
export interface LoginEventRecord {
  readonly provider: string;
  /** LOGIN_SUCCEEDED or the ErrorCode the client got. */
  readonly outcome: string;
  readonly userId: string | undefined;
  /** A keyed hash of the client IP. */
  readonly ipHash: string | undefined;
  readonly userAgent: string | undefined;
  readonly at: Date;
}

/** The audit trail of verification attempts, in PostgreSQL. */
export class LoginEventRepository {
  constructor(private readonly prisma: PrismaClient) {}

  async record(event: LoginEventRecord): Promise<void> {
    await this.prisma.loginEvent.create({
      data: {
        id: uuidv7(),
        provider: event.provider,
        outcome: event.outcome,
        userId: event.userId ?? null,
        ipHash: event.ipHash ?? null,
        userAgent: event.userAgent?.slice(0, MAX_USER_AGENT_LENGTH) ?? null,
        createdAt: event.at,
      },
    });
  }

  /** Deletes events older than `retentionDays`, in batches; returns how many. */
  async prune(retentionDays: number): Promise<number> {
    let total = 0;
    for (;;) {
      const deleted = await this.prisma.$executeRaw`
        DELETE FROM login_events WHERE id IN (
          SELECT id FROM login_events WHERE created_at < now() - make_interval(days => ${retentionDays}::int) LIMIT ${PRUNE_BATCH}
        )`;
      total += deleted;
      if (deleted < PRUNE_BATCH) return total;
    }
  }
}
