import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PrismaClient } from "../../src/generated/prisma/client.js";
import { openDatabase } from "../../src/store/database.js";
import { SessionRepository } from "../../src/store/session.repository.js";
import { UserRepository } from "../../src/store/user.repository.js";
import { createTestDatabase, openEmbeddedTestDatabase } from "../helpers/database.js";
import { newSessionRecord, refreshTokenRecord, testTokenCipher, verifiedLogin } from "../helpers/sessions.js";

interface Subject {
  sessions: SessionRepository;
  users: UserRepository;
  prisma: PrismaClient;
  close(): Promise<void>;
}

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const GRACE_SECONDS = 10;

/** The contract SessionRepository (with the login statement that opens sessions) keeps on every database it runs on. */
function sessionRepositoryContract(name: string, open: () => Promise<Subject>) {
  describe(`SessionRepository contract: ${name}`, () => {
    let subject: Subject;
    let phones = 0;
    beforeAll(async () => {
      subject = await open();
    });
    afterAll(async () => subject?.close());

    /** A login of a new number, which opens a session whose first refresh token is issued at `createdAt`. */
    async function logIn(createdAt = new Date(), lifetimeMs?: number, number = `+91980000${String(++phones).padStart(4, "0")}`, sub = `sub-${number}`) {
      const session = newSessionRecord(createdAt, lifetimeMs);
      const { user } = await subject.users.upsertVerifiedUser(verifiedLogin(number, sub), session);
      return { user, session, first: session.refreshToken };
    }

    const successor = () => ({ ...refreshTokenRecord(), keyId: "k1" });

    /** Moves a session's rotations and revocation into the past, instead of waiting. */
    async function backdate(sessionId: string, seconds: number) {
      await subject.prisma.$executeRaw`UPDATE refresh_tokens SET rotated_at = rotated_at - make_interval(secs => ${seconds}::float8) WHERE session_id = ${sessionId}::uuid`;
      await subject.prisma.$executeRaw`UPDATE sessions SET revoked_at = revoked_at - make_interval(secs => ${seconds}::float8) WHERE id = ${sessionId}::uuid`;
    }

    it("answers session checks made together (one query) each for itself: live, revoked, another user's, unknown, repeated", async () => {
      const live = await logIn();
      const revoked = await logIn();
      const other = await logIn();
      await subject.sessions.revoke({ sessionId: revoked.session.id }, "sign_out");

      const answers = await Promise.all([
        subject.sessions.findActiveSessionUser(live.session.id, live.user.id),
        subject.sessions.findActiveSessionUser(revoked.session.id, revoked.user.id),
        subject.sessions.findActiveSessionUser(other.session.id, live.user.id),
        subject.sessions.findActiveSessionUser(randomUUID(), live.user.id),
        subject.sessions.findActiveSessionUser(live.session.id.toUpperCase(), live.user.id),
        subject.sessions.findActiveSessionUser(other.session.id, other.user.id),
      ]);

      expect(answers.map((user) => user?.id)).toEqual([live.user.id, undefined, undefined, undefined, live.user.id, other.user.id]);
    });

    it("opens a session with the login and finds its user, only with the session's own user id", async () => {
      const { user, session } = await logIn();
      expect(await subject.sessions.findActiveSessionUser(session.id, user.id)).toMatchObject({ id: user.id, phoneNumber: user.phoneNumber });
      expect(await subject.sessions.findActiveSessionUser(session.id, randomUUID())).toBeUndefined();
      expect(await subject.sessions.findActiveSessionUser(randomUUID(), user.id)).toBeUndefined();
      expect(await subject.sessions.findRefreshToken(session.refreshToken.hash)).toEqual(session.refreshToken);
    });

    it("keeps the instants it is given, whatever the database's time zone", async () => {
      const createdAt = new Date("2026-03-01T12:34:56.789Z");
      const { session } = await logIn(createdAt);
      expect(await subject.sessions.findRefreshToken(session.refreshToken.hash)).toMatchObject({ issuedAt: createdAt });
      const [row] = await subject.prisma.$queryRaw<Array<{ utc: string }>>`
        SELECT to_char(issued_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS') AS utc FROM refresh_tokens WHERE session_id = ${session.id}::uuid`;
      expect(row?.utc).toBe("2026-03-01T12:34:56.789");
    });

    it("rotates once; a repeat within the grace window sees the rotation, a later one revokes the session", async () => {
      const { user, session, first } = await logIn();
      const next = successor();
      expect(await subject.sessions.rotate(first.hash, next, GRACE_SECONDS)).toEqual({
        kind: "Rotated",
        sessionId: session.id,
        userId: user.id,
        phoneNumber: user.phoneNumber,
      });
      expect(await subject.sessions.findRefreshToken(next.hash)).toEqual({
        hash: next.hash,
        accessTokenId: next.accessTokenId,
        issuedAt: next.issuedAt,
        expiresAt: next.expiresAt,
        successor: undefined,
      });
      expect((await subject.sessions.findRefreshToken(first.hash))?.successor).toEqual({ hash: next.hash, keyId: "k1" });

      expect(await subject.sessions.rotate(first.hash, successor(), GRACE_SECONDS)).toEqual({
        kind: "RotatedWithinGrace",
        sessionId: session.id,
        userId: user.id,
        phoneNumber: user.phoneNumber,
        successor: { hash: next.hash, keyId: "k1" },
      });

      await backdate(session.id, GRACE_SECONDS + 1);
      expect(await subject.sessions.rotate(first.hash, successor(), GRACE_SECONDS)).toEqual({ kind: "Reused", sessionId: session.id });
      expect(await subject.sessions.findActiveSessionUser(session.id, user.id)).toBeUndefined();
      const [revoked] = await subject.prisma.session.findMany({ where: { id: session.id } });
      expect(revoked?.revokedReason).toBe("refresh_token_reused");
      expect(await subject.sessions.rotate(next.hash, successor(), GRACE_SECONDS)).toEqual({ kind: "Unusable" });
    });

    it("with no grace window, treats any repeat as reuse", async () => {
      const { first } = await logIn();
      expect((await subject.sessions.rotate(first.hash, successor(), 0)).kind).toBe("Rotated");
      expect((await subject.sessions.rotate(first.hash, successor(), 0)).kind).toBe("Reused");
    });

    it("lets exactly one of many concurrent rotations of a token rotate; the others see it within the grace window", async () => {
      const { first } = await logIn();
      const results = await Promise.all(Array.from({ length: 8 }, () => subject.sessions.rotate(first.hash, successor(), GRACE_SECONDS)));
      expect(results.filter((result) => result.kind === "Rotated")).toHaveLength(1);
      expect(results.filter((result) => result.kind === "RotatedWithinGrace")).toHaveLength(7);
    });

    it("refuses unknown and expired tokens without touching anything", async () => {
      const { user, session, first } = await logIn(new Date(Date.now() - 2 * MINUTE_MS), MINUTE_MS);
      expect(await subject.sessions.rotate(refreshTokenRecord().hash, successor(), GRACE_SECONDS)).toEqual({ kind: "Unusable" });
      expect(await subject.sessions.rotate(first.hash, successor(), GRACE_SECONDS)).toEqual({ kind: "Unusable" });
      expect(await subject.sessions.findActiveSessionUser(session.id, user.id)).toBeDefined();
    });

    it("revokes one session or every session of a user, counting only the ones still open", async () => {
      const number = "+919800009001";
      const { user, session } = await logIn(new Date(), undefined, number, "devices");
      const second = await logIn(new Date(), undefined, number, "devices");
      const third = await logIn(new Date(), undefined, number, "devices");
      expect(second.user.id).toBe(user.id);

      expect(await subject.sessions.revoke({ sessionId: session.id }, "sign_out")).toBe(1);
      expect(await subject.sessions.revoke({ sessionId: session.id }, "sign_out")).toBe(0);
      expect(await subject.sessions.findActiveSessionUser(second.session.id, user.id)).toBeDefined();
      expect(await subject.sessions.revoke({ userId: user.id }, "sign_out_all")).toBe(2);
      expect(await subject.sessions.findActiveSessionUser(third.session.id, user.id)).toBeUndefined();
    });

    it("revokes the previous owner's sessions when the number changes hands, never the new owner's", async () => {
      const number = "+919800009002";
      const previous = await logIn(new Date(), undefined, number, "previous-owner");
      const next = await logIn(new Date(), undefined, number, "new-owner");
      // The new owner is a new user; the previous one keeps its id but gives the number up.
      expect(next.user.id).not.toBe(previous.user.id);
      expect(await subject.prisma.user.findUniqueOrThrow({ where: { id: previous.user.id } })).toMatchObject({ phoneNumber: null, numberReleasedAt: expect.any(Date) });
      expect(await subject.sessions.findActiveSessionUser(previous.session.id, previous.user.id)).toBeUndefined();
      expect(await subject.sessions.findActiveSessionUser(next.session.id, next.user.id)).toBeDefined();
      const [revoked] = await subject.prisma.session.findMany({ where: { id: previous.session.id } });
      expect(revoked?.revokedReason).toBe("number_changed_hands");
    });

    it("leaves exactly one of two people verifying one number at once linked, holding the only live session", async () => {
      for (let round = 0; round < 12; round++) {
        const number = `+91980001${String(round).padStart(4, "0")}`;
        for (let attempt = 0; attempt < 3; attempt++) {
          await Promise.all([logIn(new Date(), undefined, number, "person-a"), logIn(new Date(), undefined, number, "person-b")]);
          // Whoever came second holds the number, with one identity and the only live session on it.
          const holder = await subject.prisma.user.findUniqueOrThrow({ where: { phoneNumber: number }, include: { identities: true, sessions: true } });
          expect(holder.identities).toHaveLength(1);
          const live = await subject.prisma.session.findMany({
            where: { revokedAt: null, user: { OR: [{ phoneNumber: number }, { identities: { some: { subject: { in: ["person-a", "person-b"] } } } }] } },
          });
          expect(live.map((session) => session.userId)).toEqual([holder.id]);
        }
      }
    });

    it("leaves no account with a live session and no identity when one provider account verifies two numbers at once", async () => {
      for (let round = 0; round < 12; round++) {
        const [first, second] = await Promise.all([
          logIn(new Date(), undefined, `+91980002${String(round).padStart(4, "0")}`, `traveller-${round}`),
          logIn(new Date(), undefined, `+91980003${String(round).padStart(4, "0")}`, `traveller-${round}`),
        ]);
        const orphans = await subject.prisma.session.count({
          where: { userId: { in: [first.user.id, second.user.id] }, revokedAt: null, user: { identities: { none: {} } } },
        });
        expect(orphans).toBe(0);
        expect(await subject.prisma.identity.count({ where: { subject: `traveller-${round}` } })).toBe(1);
      }
    });

    it("keeps the sessions of an account that another provider's identity still proves when one identity moves away", async () => {
      const number = "+919800009005";
      const viaOther = await subject.users.upsertVerifiedUser({ ...verifiedLogin(number, "other-sub"), provider: "wgtwo" }, newSessionRecord());
      const before = await logIn(new Date(), undefined, number, "moving-on");
      await logIn(new Date(), undefined, "+919800009006", "moving-on");
      expect(before.user.id).toBe(viaOther.user.id);
      expect(await subject.sessions.findActiveSessionUser(before.session.id, before.user.id)).toBeDefined();
    });

    it("revokes the sessions of the account an identity leaves for another number", async () => {
      const before = await logIn(new Date(), undefined, "+919800009003", "moving-person");
      const after = await logIn(new Date(), undefined, "+919800009004", "moving-person");
      expect(after.user.id).not.toBe(before.user.id);
      expect(await subject.sessions.findActiveSessionUser(before.session.id, before.user.id)).toBeUndefined();
      expect(await subject.sessions.findActiveSessionUser(after.session.id, after.user.id)).toBeDefined();
      const [revoked] = await subject.prisma.session.findMany({ where: { id: before.session.id } });
      expect(revoked?.revokedReason).toBe("identity_moved");
    });

    it("prunes expired tokens, tokens of revoked sessions, sessions left without tokens, and revoked sessions past retention", async () => {
      const now = Date.now();
      const live = await logIn();
      // Rotated, then its first token expired: the successor lives on.
      const rotated = await logIn();
      expect((await subject.sessions.rotate(rotated.first.hash, successor(), GRACE_SECONDS)).kind).toBe("Rotated");
      await subject.prisma.$executeRaw`UPDATE refresh_tokens SET expires_at = now() - interval '1 day' WHERE token_hash = ${rotated.first.hash}`;
      const expired = await logIn(new Date(now - 2 * DAY_MS), DAY_MS);
      const revokedRecently = await logIn();
      await subject.sessions.revoke({ sessionId: revokedRecently.session.id }, "sign_out");
      await backdate(revokedRecently.session.id, DAY_MS / 1000);
      const revokedLongAgo = await logIn();
      await subject.sessions.revoke({ sessionId: revokedLongAgo.session.id }, "sign_out");
      await backdate(revokedLongAgo.session.id, (8 * DAY_MS) / 1000);

      // A batch of 1 exercises the batching.
      const removed = await subject.sessions.prune(7, 1);
      const tokens = (sessionId: string) => subject.prisma.refreshToken.count({ where: { sessionId } });
      const exists = async (sessionId: string) => (await subject.prisma.session.count({ where: { id: sessionId } })) === 1;
      expect(await tokens(live.session.id)).toBe(1);
      expect(await tokens(rotated.session.id)).toBe(1); // the expired predecessor went, the successor stays
      expect(await exists(expired.session.id)).toBe(false);
      expect(await exists(revokedRecently.session.id)).toBe(true);
      expect(await tokens(revokedRecently.session.id)).toBe(0);
      expect(await exists(revokedLongAgo.session.id)).toBe(false);
      expect(removed.refreshTokens).toBeGreaterThanOrEqual(4);
      expect(removed.sessions).toBeGreaterThanOrEqual(2);
      expect(await subject.sessions.findActiveSessionUser(live.session.id, live.user.id)).toBeDefined();
      expect(await subject.sessions.prune(7, 1)).toEqual({ refreshTokens: 0, sessions: 0 });
    });
  });
}

function onPostgres(defaults: { database?: Record<string, string>; urlOptions?: string } = {}) {
  return async (): Promise<Subject> => {
    const testDatabase = await createTestDatabase(defaults.database ? { settings: defaults.database } : {});
    const url = new URL(testDatabase.url);
    if (defaults.urlOptions) url.searchParams.set("options", defaults.urlOptions);
    const { database } = await openDatabase({ kind: "postgres", url: url.href, poolSize: 10 });
    return {
      sessions: new SessionRepository(database.prisma),
      users: new UserRepository(database.prisma, testTokenCipher(), 90),
      prisma: database.prisma,
      async close() {
        await database.close();
        await testDatabase.drop();
      },
    };
  };
}

sessionRepositoryContract("PostgreSQL", onPostgres());
// India is five and a half hours from UTC: an instant read in the wrong zone is hours off. REPEATABLE READ
// would turn every lock wait of a login or refresh into a serialization failure.
sessionRepositoryContract(
  "PostgreSQL defaulting to Asia/Kolkata and REPEATABLE READ",
  onPostgres({ database: { timezone: "Asia/Kolkata", default_transaction_isolation: "repeatable read" } }),
);
sessionRepositoryContract("PostgreSQL with Asia/Kolkata in its URL", onPostgres({ urlOptions: "-c TimeZone=Asia/Kolkata" }));

sessionRepositoryContract("PGlite (embedded)", async () => {
  const { database, close } = await openEmbeddedTestDatabase();
  return { sessions: new SessionRepository(database.prisma), users: new UserRepository(database.prisma, testTokenCipher(), 90), prisma: database.prisma, close };
});
