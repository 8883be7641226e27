import { AsyncResource } from "node:async_hooks";
import { v7 as uuidv7 } from "uuid";
import type { Prisma, PrismaClient } from "../generated/prisma/client.js";
import { isDatabaseUnavailable } from "./database-errors.js";

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

/** Rows per INSERT at most. */
const MAX_BATCH = 500;

interface QueuedEvent {
  readonly row: Prisma.LoginEventCreateManyInput;
  readonly written: () => void;
  readonly failed: (error: unknown) => void;
}

/**
 * The audit trail of verification attempts, in PostgreSQL. Writes are
 * batched without waiting: one INSERT at a time, and the events that arrive
 * while it runs go together in the next (a busy gateway writes many rows per
 * round trip, an idle one each row at once).
 */
export class LoginEventRepository {
  private queued: QueuedEvent[] = [];
  private writing = false;
  /**
   * Starts the writing loop outside the request that happens to queue first (in the context the repository was
   * made in): it goes on for later requests' events, which must not land in that request's trace and log lines.
   */
  private readonly startWriting = AsyncResource.bind(() => void this.writeQueued());

  constructor(private readonly prisma: PrismaClient) {}

  /** Resolves when the event is stored; rejects with the database's error. */
  record(event: LoginEventRecord): Promise<void> {
    return new Promise((written, failed) => {
      this.queued.push({ row: rowOf(event), written, failed });
      if (!this.writing) this.startWriting();
    });
  }

  private async writeQueued(): Promise<void> {
    this.writing = true;
    try {
      while (this.queued.length > 0) await this.writeBatch(this.queued.splice(0, MAX_BATCH));
    } finally {
      this.writing = false;
    }
  }

  private async writeBatch(batch: QueuedEvent[]): Promise<void> {
    try {
      await this.prisma.loginEvent.createMany({ data: batch.map((event) => event.row) });
      for (const event of batch) event.written();
    } catch (error) {
      // One bad row must not cost the others theirs; with the database away each would fail alike.
      if (batch.length > 1 && !isDatabaseUnavailable(error)) await Promise.all(batch.map((event) => this.writeOne(event)));
      else for (const event of batch) event.failed(error);
    }
  }

  private async writeOne(event: QueuedEvent): Promise<void> {
    try {
      await this.prisma.loginEvent.create({ data: event.row });
      event.written();
    } catch (error) {
      event.failed(error);
    }
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

function rowOf(event: LoginEventRecord): Prisma.LoginEventCreateManyInput {
  return {
    id: uuidv7(),
    provider: event.provider,
    outcome: event.outcome,
    userId: event.userId ?? null,
    ipHash: event.ipHash ?? null,
    userAgent: event.userAgent?.slice(0, MAX_USER_AGENT_LENGTH) ?? null,
    createdAt: event.at,
  };
}
