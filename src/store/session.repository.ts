import { AsyncResource } from "node:async_hooks";
import DataLoader from "dataloader";
import type { PrismaClient } from "../generated/prisma/client.js";
import { UnreachableCaseError } from "../unreachable.js";
import { STORED_USER_COLUMNS, type StoredUser } from "./user.repository.js";

/** Why a session ended; kept for operators and audits. */
export type RevocationReason = "sign_out" | "sign_out_all" | "refresh_token_reused" | "number_changed_hands" | "identity_moved";
const REFRESH_TOKEN_REUSED: RevocationReason = "refresh_token_reused";
/** Session checks answered by one query at most. */
const MAX_SESSION_CHECKS_PER_QUERY = 500;

/** A refresh token as the database keeps it: its hash, and the access token issued beside it. */
export interface RefreshTokenRecord {
  readonly hash: Buffer;
  /** `jti` of the access token issued with it. */
  readonly accessTokenId: string;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
}

/** A session to open with a login (see `UserRepository.upsertVerifiedUser`). */
export interface NewSession {
  readonly id: string;
  readonly createdAt: Date;
  readonly refreshToken: RefreshTokenRecord;
}

/** Who a session belongs to: what an access token needs besides its ids. */
export interface SessionHolder {
  readonly sessionId: string;
  readonly userId: string;
  /** E.164. */
  readonly phoneNumber: string;
}

/** The token that replaced a rotated one: its hash, and the key it was derived with. */
export interface Successor {
  readonly hash: Buffer;
  readonly keyId: string;
}

/** What presenting a refresh token did. */
export type RotationResult =
  | ({ kind: "Rotated" } & SessionHolder)
  /** Rotated moments ago (within the grace window): the caller may hand out the same successor again. */
  | ({ kind: "RotatedWithinGrace"; successor: Successor } & SessionHolder)
  /** Rotated before the grace window: a copy is in someone else's hands. The session is now revoked. */
  | { kind: "Reused"; sessionId: string }
  /** Unknown, expired, or its session was revoked. */
  | { kind: "Unusable" };

interface RotationRow {
  kind: RotationResult["kind"];
  sessionId: string;
  userId: string;
  phoneNumber: string;
  successorHash: Uint8Array | null;
  successorKeyId: string | null;
}

/**
 * Sessions and their refresh tokens (sessions are opened by the login
 * statement itself). Token lifetimes come from the caller's clock, the one
 * the tokens' `iat` uses; when a token was rotated or a session revoked, and
 * whether that lies within the grace window, is judged by the database's
 * clock alone, so instances whose clocks differ agree.
 */
export class SessionRepository {
  /**
   * The session checks of every request that authenticates in one turn of the
   * event loop, answered by one query after the turn (no cache: each check reads
   * the sessions as they are then, so a revocation committed before it holds).
   * Each check was a round trip of its own, a third of a `me` request's CPU.
   */
  private readonly activeSessionUsers = new DataLoader<string, StoredUser | undefined>((sessionIds) => this.loadActiveSessionUsers(sessionIds), {
    cache: false,
    // Run outside the request that happened to check first: the query answers the others too.
    batchScheduleFn: AsyncResource.bind((dispatch: () => void) => void setImmediate(dispatch)),
    maxBatchSize: MAX_SESSION_CHECKS_PER_QUERY,
  });

  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Rotates the refresh token with hash `presentedHash` to `successor`, in one
   * statement. The presented row is locked first, so of two concurrent
   * rotations exactly one rotates; the other waits, then sees the rotation
   * (PostgreSQL re-reads a locked row once its lock holder commits). A token
   * rotated more than `graceSeconds` ago revokes its whole session.
   */
  async rotate(presentedHash: Buffer, successor: RefreshTokenRecord & { keyId: string }, graceSeconds: number): Promise<RotationResult> {
    const rows = await this.prisma.$queryRaw<RotationRow[]>`
      WITH presented AS (
        SELECT t.token_hash, t.session_id, t.rotated_at, t.expires_at, t.successor_hash, t.successor_key_id,
               -- A user that released its number has no live session (the release revoked them); say so here too.
               s.user_id, CASE WHEN u.phone_number IS NULL THEN coalesce(s.revoked_at, u.number_released_at) ELSE s.revoked_at END AS revoked_at,
               u.phone_number
        FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id JOIN users u ON u.id = s.user_id
        WHERE t.token_hash = ${presentedHash}
        FOR UPDATE OF t
      ), rotated AS (
        UPDATE refresh_tokens t SET rotated_at = statement_timestamp(), successor_hash = ${successor.hash}, successor_key_id = ${successor.keyId}
        FROM presented p
        WHERE t.token_hash = p.token_hash AND p.rotated_at IS NULL AND p.revoked_at IS NULL AND p.expires_at > statement_timestamp()
        RETURNING t.session_id
      ), successor AS (
        INSERT INTO refresh_tokens (token_hash, session_id, access_token_id, issued_at, expires_at)
        SELECT ${successor.hash}, session_id, ${successor.accessTokenId}::uuid, ${successor.issuedAt}, ${successor.expiresAt} FROM rotated
      ), revoked AS (
        UPDATE sessions s SET revoked_at = statement_timestamp(), revoked_reason = ${REFRESH_TOKEN_REUSED}
        FROM presented p
        WHERE s.id = p.session_id AND p.revoked_at IS NULL
          AND p.rotated_at < statement_timestamp() - make_interval(secs => ${graceSeconds}::float8)
        RETURNING s.id
      )
      SELECT CASE
               WHEN EXISTS (SELECT 1 FROM rotated) THEN 'Rotated'
               WHEN EXISTS (SELECT 1 FROM revoked) THEN 'Reused'
               WHEN p.revoked_at IS NULL AND p.rotated_at IS NOT NULL THEN 'RotatedWithinGrace'
               ELSE 'Unusable'
             END AS kind,
             p.session_id::text AS "sessionId", p.user_id::text AS "userId", p.phone_number AS "phoneNumber",
             p.successor_hash AS "successorHash", p.successor_key_id AS "successorKeyId"
      FROM presented p`;
    const row = rows[0];
    if (!row) return { kind: "Unusable" };
    const holder = { sessionId: row.sessionId, userId: row.userId, phoneNumber: row.phoneNumber };
    switch (row.kind) {
      case "Rotated":
        return { kind: "Rotated", ...holder };
      case "RotatedWithinGrace":
        if (!row.successorHash || !row.successorKeyId) throw new Error("rotated refresh token has no successor");
        return { kind: "RotatedWithinGrace", ...holder, successor: { hash: Buffer.from(row.successorHash), keyId: row.successorKeyId } };
      case "Reused":
        return { kind: "Reused", sessionId: row.sessionId };
      case "Unusable":
        return { kind: "Unusable" };
      default:
        throw new UnreachableCaseError(row.kind);
    }
  }

  /** The stored record of a refresh token, by hash, with its successor once it has been rotated. */
  async findRefreshToken(hash: Buffer): Promise<(RefreshTokenRecord & { successor: Successor | undefined }) | undefined> {
    const rows = await this.prisma.$queryRaw<Array<Omit<RefreshTokenRecord, "hash"> & { successorHash: Uint8Array | null; successorKeyId: string | null }>>`
      SELECT access_token_id::text AS "accessTokenId", issued_at AS "issuedAt", expires_at AS "expiresAt",
             successor_hash AS "successorHash", successor_key_id AS "successorKeyId"
      FROM refresh_tokens WHERE token_hash = ${hash}`;
    const row = rows[0];
    if (!row) return undefined;
    const { successorHash, successorKeyId, ...record } = row;
    const successor = successorHash && successorKeyId ? { hash: Buffer.from(successorHash), keyId: successorKeyId } : undefined;
    return { hash, ...record, successor };
  }

  /** The user of a session that is not revoked; `undefined` once it is. */
  async findActiveSessionUser(sessionId: string, userId: string): Promise<StoredUser | undefined> {
    const user = await this.activeSessionUsers.load(sessionId.toLowerCase());
    return user?.id === userId.toLowerCase() ? user : undefined;
  }

  private async loadActiveSessionUsers(sessionIds: readonly string[]): Promise<Array<StoredUser | undefined>> {
    const rows = await this.prisma.$queryRaw<Array<StoredUser & { sessionId: string }>>`
      SELECT s.id::text AS "sessionId", ${STORED_USER_COLUMNS}
      FROM sessions s JOIN users u ON u.id = s.user_id
      WHERE s.id = ANY(${sessionIds}::uuid[]) AND s.revoked_at IS NULL AND u.phone_number IS NOT NULL`;
    const bySession = new Map(rows.map(({ sessionId, ...user }) => [sessionId, user]));
    return sessionIds.map((sessionId) => bySession.get(sessionId));
  }

  /** Revokes one session, or every session of a user; returns how many were still active. */
  async revoke(scope: { sessionId: string } | { userId: string }, reason: RevocationReason): Promise<number> {
    return "sessionId" in scope
      ? this.prisma.$executeRaw`
          UPDATE sessions SET revoked_at = statement_timestamp(), revoked_reason = ${reason}
          WHERE id = ${scope.sessionId}::uuid AND revoked_at IS NULL`
      : this.prisma.$executeRaw`
          UPDATE sessions SET revoked_at = statement_timestamp(), revoked_reason = ${reason}
          WHERE user_id = ${scope.userId}::uuid AND revoked_at IS NULL`;
  }

  /** Sessions a client can still use: not revoked, with an unrotated refresh token that has not expired. */
  async countActive(): Promise<number> {
    const [row] = await this.prisma.$queryRaw<Array<{ count: number }>>`
      SELECT count(*)::int AS count FROM sessions s
      WHERE s.revoked_at IS NULL AND EXISTS (
        SELECT 1 FROM refresh_tokens t WHERE t.session_id = s.id AND t.rotated_at IS NULL AND t.expires_at > statement_timestamp()
      )`;
    return row?.count ?? 0;
  }

  /**
   * Deletes what can no longer be used: refresh tokens past their expiry or of
   * revoked sessions, sessions without any refresh token left (their access
   * tokens expired with the last refresh token), and revoked sessions after
   * `keepRevokedDays`. Deletes in batches so that no statement holds locks
   * for long; returns how many rows went.
   */
  async prune(keepRevokedDays: number, batchSize: number): Promise<{ refreshTokens: number; sessions: number }> {
    const expiredTokens = await inBatches(batchSize, () => this.prisma.$executeRaw`
      DELETE FROM refresh_tokens WHERE token_hash IN (
        SELECT token_hash FROM refresh_tokens WHERE expires_at <= statement_timestamp() LIMIT ${batchSize}
      )`);
    const tokensOfRevokedSessions = await inBatches(batchSize, () => this.prisma.$executeRaw`
      DELETE FROM refresh_tokens WHERE token_hash IN (
        SELECT t.token_hash FROM sessions s JOIN refresh_tokens t ON t.session_id = s.id
        WHERE s.revoked_at IS NOT NULL LIMIT ${batchSize}
      )`);
    const sessions = await inBatches(batchSize, () => this.prisma.$executeRaw`
      DELETE FROM sessions WHERE id IN (
        SELECT s.id FROM sessions s
        WHERE CASE WHEN s.revoked_at IS NULL
                   THEN NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.session_id = s.id)
                   ELSE s.revoked_at <= statement_timestamp() - make_interval(days => ${keepRevokedDays}::int) END
        LIMIT ${batchSize}
      )`);
    return { refreshTokens: expiredTokens + tokensOfRevokedSessions, sessions };
  }
}

/** Runs a batched DELETE until a batch comes back short; returns the rows deleted in all. */
async function inBatches(batchSize: number, deleteBatch: () => Promise<number>): Promise<number> {
  let total = 0;
  for (let deleted = batchSize; deleted === batchSize; total += deleted) deleted = await deleteBatch();
  return total;
}
