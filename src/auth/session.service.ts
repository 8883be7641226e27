import { randomUUID } from "node:crypto";
import { v7 as uuidv7 } from "uuid";
import type { Logger } from "../logger.js";
import type { NewSession, RefreshTokenRecord, SessionHolder, SessionRepository, Successor } from "../store/session.repository.js";
import type { StoredUser } from "../store/user.repository.js";
import { UnreachableCaseError } from "../unreachable.js";
import type { AccessTokens } from "./access-tokens.js";
import { hashRefreshToken, isWellFormedRefreshToken, newRefreshToken, type RefreshTokenSuccession } from "./refresh-tokens.js";

/**
 * How many rotations a duplicate refresh follows to the current token. A
 * client racing itself within the grace window rotates once or twice.
 */
const MAX_DUPLICATE_CHAIN = 8;
/** Rows per DELETE when pruning: short statements, short locks. */
const PRUNE_BATCH_SIZE = 1_000;

/** The tokens a client holds for one session. */
export interface IssuedSession {
  readonly accessToken: string;
  readonly expiresAt: Date;
  readonly refreshToken: string;
  readonly refreshTokenExpiresAt: Date;
}

/** A session about to be opened by a login: stored with the login, then issued with {@link SessionService.issue}. */
export interface PendingSession {
  readonly record: NewSession;
  readonly refreshToken: string;
}

export type RefreshOutcome = { kind: "SessionRefreshed"; session: IssuedSession } | { kind: "InvalidRefreshToken" };

/** The signed-in user of an access token, and its session. */
export type Authenticated = { kind: "Authenticated"; user: StoredUser; sessionId: string };
/** The signed-in user behind an access token, or why there is none. */
export type Authentication = Authenticated | { kind: "Unauthenticated"; reason: "invalid" | "expired" | "revoked" };

export interface SessionServiceDependencies {
  readonly sessions: SessionRepository;
  readonly accessTokens: AccessTokens;
  readonly successors: RefreshTokenSuccession;
  readonly logger: Logger;
  readonly refreshTokenTtlSeconds: number;
  /** A refresh token presented again this long after its rotation is a stolen copy. */
  readonly reuseGraceSeconds: number;
  /** How long revoked sessions stay for operators to see why they ended. */
  readonly revokedSessionRetentionDays: number;
  readonly now?: () => Date;
}

/**
 * Sessions: an access token (a short-lived JWT) and an opaque refresh token,
 * rotated on every use. Revocation is checked against the session store on
 * every authentication, so it holds at once and across instances.
 */
export class SessionService {
  private readonly now: () => Date;

  constructor(private readonly deps: SessionServiceDependencies) {
    this.now = deps.now ?? (() => new Date());
  }

  /** A new session for a login to store together with its user (one statement, so neither is stored alone). */
  newSession(): PendingSession {
    const createdAt = this.now();
    const refreshToken = newRefreshToken();
    return {
      record: {
        id: uuidv7(),
        createdAt,
        refreshToken: { hash: hashRefreshToken(refreshToken), accessTokenId: randomUUID(), issuedAt: createdAt, expiresAt: this.refreshTokenExpiry(createdAt) },
      },
      refreshToken,
    };
  }

  /** The tokens of a session the login has stored for `user`. */
  issue(pending: PendingSession, user: StoredUser): Promise<IssuedSession> {
    const holder = { sessionId: pending.record.id, userId: user.id, phoneNumber: user.phoneNumber };
    return this.sign(holder, pending.refreshToken, pending.record.refreshToken);
  }

  /**
   * Trades a refresh token for a new pair. A concurrent duplicate within the
   * grace window gets the same refresh token and an access token with the same
   * claims; a reuse after it revokes the session, since one of the two
   * presenters holds a stolen copy.
   */
  async refresh(refreshToken: string): Promise<RefreshOutcome> {
    if (!isWellFormedRefreshToken(refreshToken)) return { kind: "InvalidRefreshToken" };
    const issuedAt = this.now();
    const successor = this.deps.successors.next(refreshToken);
    const record = {
      hash: hashRefreshToken(successor.token),
      keyId: successor.keyId,
      accessTokenId: randomUUID(),
      issuedAt,
      expiresAt: this.refreshTokenExpiry(issuedAt),
    };
    const rotation = await this.deps.sessions.rotate(hashRefreshToken(refreshToken), record, this.deps.reuseGraceSeconds);
    switch (rotation.kind) {
      case "Rotated":
        return { kind: "SessionRefreshed", session: await this.sign(rotation, successor.token, record) };
      case "RotatedWithinGrace": {
        const latest = await this.latestSuccessor(refreshToken, rotation.successor);
        if (!latest) {
          // The chain cannot be derived again (a key left TOKEN_ENCRYPTION_KEYS, or changed under its id) or
          // was pruned: the duplicate cannot get the tokens the first request got, and new ones would fork the session.
          this.deps.logger.warn({ sessionId: rotation.sessionId }, "duplicate refresh cannot be answered with the same tokens");
          return { kind: "InvalidRefreshToken" };
        }
        return { kind: "SessionRefreshed", session: await this.sign(rotation, latest.token, latest.record) };
      }
      case "Reused":
        this.deps.logger.warn({ sessionId: rotation.sessionId }, "refresh token reused after rotation: session revoked");
        return { kind: "InvalidRefreshToken" };
      case "Unusable":
        return { kind: "InvalidRefreshToken" };
      default:
        throw new UnreachableCaseError(rotation);
    }
  }

  /**
   * Follows a rotated token's successors to the one not rotated yet: the
   * answer a duplicate must get, since an older successor would already be
   * spent and presenting it later would end the session.
   */
  private async latestSuccessor(token: string, successor: Successor): Promise<{ token: string; record: RefreshTokenRecord } | undefined> {
    for (let step = 0; step < MAX_DUPLICATE_CHAIN; step++) {
      const next = this.deps.successors.derive(token, successor.keyId);
      if (next === undefined || !hashRefreshToken(next).equals(successor.hash)) return undefined;
      const record = await this.deps.sessions.findRefreshToken(successor.hash);
      if (!record) return undefined;
      if (!record.successor) return { token: next, record };
      token = next;
      successor = record.successor;
    }
    return undefined;
  }

  /** The user of an access token, if its signature, lifetime and session all hold. */
  async authenticate(accessToken: string): Promise<Authentication> {
    const check = await this.deps.accessTokens.verify(accessToken);
    if (!check.ok) return { kind: "Unauthenticated", reason: check.reason };
    const user = await this.deps.sessions.findActiveSessionUser(check.sessionId, check.userId);
    return user ? { kind: "Authenticated", user, sessionId: check.sessionId } : { kind: "Unauthenticated", reason: "revoked" };
  }

  /** Ends the session, or every session of its user; returns how many ended. */
  async signOut(session: { sessionId: string; userId: string }, allSessions: boolean): Promise<number> {
    const revoked = allSessions
      ? await this.deps.sessions.revoke({ userId: session.userId }, "sign_out_all")
      : await this.deps.sessions.revoke({ sessionId: session.sessionId }, "sign_out");
    this.deps.logger.info({ userId: session.userId, sessionId: session.sessionId, allSessions, revoked }, "signed out");
    return revoked;
  }

  /** Deletes expired refresh tokens and ended sessions; the gateway runs it periodically. */
  async prune(): Promise<void> {
    const removed = await this.deps.sessions.prune(this.deps.revokedSessionRetentionDays, PRUNE_BATCH_SIZE);
    if (removed.refreshTokens > 0 || removed.sessions > 0) this.deps.logger.info(removed, "pruned expired refresh tokens and ended sessions");
  }

  private refreshTokenExpiry(issuedAt: Date): Date {
    return new Date(issuedAt.getTime() + this.deps.refreshTokenTtlSeconds * 1000);
  }

  /** Signs the access token that goes with a refresh token; the same record always gives the same claims. */
  private async sign(
    holder: SessionHolder,
    refreshToken: string,
    record: { accessTokenId: string; issuedAt: Date; expiresAt: Date },
  ): Promise<IssuedSession> {
    const { token, expiresAt } = await this.deps.accessTokens.sign({
      userId: holder.userId,
      sessionId: holder.sessionId,
      tokenId: record.accessTokenId,
      phoneNumber: holder.phoneNumber,
      issuedAt: record.issuedAt,
    });
    return { accessToken: token, expiresAt, refreshToken, refreshTokenExpiresAt: record.expiresAt };
  }
}
