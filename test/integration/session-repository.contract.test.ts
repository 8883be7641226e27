import { createHash, randomBytes, randomUUID } from "node:crypto";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PrismaClient } from "../../src/generated/prisma/client.js";
import { openDatabase } from "../../src/store/database.js";
import { applyMigrations } from "../../src/store/migrations.js";
import { SessionRepository, type RefreshTokenRecord } from "../../src/store/session.repository.js";
import { UserRepository } from "../../src/store/user.repository.js";
import { createTestDatabase } from "../helpers/database.js";

interface Subject {
  sessions: SessionRepository;
  users: UserRepository;
  prisma: PrismaClient;
  close(): Promise<void>;
}

const MINUTE = 60_000;
const DAY = 86_400_000;

function tokenRecord(issuedAt: Date, lifetimeMs = 30 * DAY): RefreshTokenRecord {
  return { hash: createHash("sha256").update(randomBytes(32)).digest(), accessTokenId: randomUUID(), issuedAt, expiresAt: new Date(issuedAt.getTime() + lifetimeMs) };
}

/** The contract SessionRepository keeps on every database it runs on. */
function sessionRepositoryContract(name: string, open: () => Promise<Subject>) {
  describe(`SessionRepository contract: ${name}`, () => {
    let subject: Subject;
    let phone = 0;
    beforeAll(async () => {
      subject = await open();
    });
    afterAll(async () => subject?.close());

    /** A stored user with one open session, its first refresh token issued at `issuedAt`. */
    async function openSession(issuedAt = new Date(), lifetimeMs?: number) {
      const { user } = await subject.users.upsertVerifiedUser({
        phoneNumber: `+91980000${String(++phone).padStart(4, "0")}`,
        countryCode: "IN",
        provider: "truecaller",
        subject: `sub-${phone}`,
        givenName: undefined,
        familyName: undefined,
        email: undefined,
        picture: undefined,
        gender: undefined,
        addressLocality: undefined,
        addressPostalCode: undefined,
      });
      const session = { id: randomUUID(), userId: user.id, createdAt: issuedAt };
      const first = tokenRecord(issuedAt, lifetimeMs);
      await subject.sessions.create(session, first);
      return { user, session, first };
    }

    const successorAt = (issuedAt: Date) => ({ ...tokenRecord(issuedAt), keyId: "k1" });

    it("finds the user of an open session, and only with the session's own user id", async () => {
      const { user, session } = await openSession();
      expect(await subject.sessions.findActiveSessionUser(session.id, user.id)).toMatchObject({ id: user.id, phoneNumber: user.phoneNumber });
      expect(await subject.sessions.findActiveSessionUser(session.id, randomUUID())).toBeUndefined();
      expect(await subject.sessions.findActiveSessionUser(randomUUID(), user.id)).toBeUndefined();
    });

    it("rotates once; a repeat within the grace window sees the rotation, a later one revokes the session", async () => {
      const { user, session, first } = await openSession();
      const now = new Date();
      const successor = successorAt(now);
      const graceStart = new Date(now.getTime() - 10_000);
      expect(await subject.sessions.rotate(first.hash, successor, graceStart)).toEqual({
        kind: "Rotated",
        sessionId: session.id,
        userId: user.id,
        phoneNumber: user.phoneNumber,
      });
      expect(await subject.sessions.findRefreshToken(successor.hash)).toEqual({
        hash: successor.hash,
        accessTokenId: successor.accessTokenId,
        issuedAt: successor.issuedAt,
        expiresAt: successor.expiresAt,
      });

      const repeat = await subject.sessions.rotate(first.hash, successorAt(new Date()), graceStart);
      expect(repeat).toEqual({
        kind: "RotatedWithinGrace",
        sessionId: session.id,
        userId: user.id,
        phoneNumber: user.phoneNumber,
        successorHash: successor.hash,
        successorKeyId: "k1",
      });

      // Eleven seconds later the rotation lies before the grace window.
      const later = new Date(now.getTime() + 11_000);
      expect(await subject.sessions.rotate(first.hash, successorAt(later), new Date(later.getTime() - 10_000))).toEqual({
        kind: "Reused",
        sessionId: session.id,
      });
      expect(await subject.sessions.findActiveSessionUser(session.id, user.id)).toBeUndefined();
      expect(await subject.sessions.rotate(successor.hash, successorAt(later), new Date(later.getTime() - 10_000))).toEqual({ kind: "Unusable" });
    });

    it("lets exactly one of many concurrent rotations of a token rotate; the others see it within the grace window", async () => {
      const { first } = await openSession();
      const now = new Date();
      const results = await Promise.all(Array.from({ length: 8 }, () => subject.sessions.rotate(first.hash, successorAt(now), new Date(now.getTime() - 10_000))));
      expect(results.filter((result) => result.kind === "Rotated")).toHaveLength(1);
      expect(results.filter((result) => result.kind === "RotatedWithinGrace")).toHaveLength(7);
    });

    it("refuses unknown and expired tokens without touching anything", async () => {
      const issuedAt = new Date(Date.now() - 2 * MINUTE);
      const { user, session, first } = await openSession(issuedAt, MINUTE);
      const now = new Date();
      expect(await subject.sessions.rotate(tokenRecord(now).hash, successorAt(now), now)).toEqual({ kind: "Unusable" });
      expect(await subject.sessions.rotate(first.hash, successorAt(now), now)).toEqual({ kind: "Unusable" });
      expect(await subject.sessions.findActiveSessionUser(session.id, user.id)).toBeDefined();
    });

    it("revokes one session or every session of a user, counting only the ones still open", async () => {
      const { user, session } = await openSession();
      const second = { id: randomUUID(), userId: user.id, createdAt: new Date() };
      await subject.sessions.create(second, tokenRecord(new Date()));
      const third = { id: randomUUID(), userId: user.id, createdAt: new Date() };
      await subject.sessions.create(third, tokenRecord(new Date()));

      expect(await subject.sessions.revoke({ sessionId: session.id }, "sign_out", new Date())).toBe(1);
      expect(await subject.sessions.revoke({ sessionId: session.id }, "sign_out", new Date())).toBe(0);
      expect(await subject.sessions.findActiveSessionUser(second.id, user.id)).toBeDefined();
      expect(await subject.sessions.revoke({ userId: user.id }, "sign_out_all", new Date())).toBe(2);
      expect(await subject.sessions.findActiveSessionUser(third.id, user.id)).toBeUndefined();
    });

    it("prunes expired tokens, tokens of revoked sessions, sessions left without tokens, and revoked sessions past retention", async () => {
      const now = new Date();
      const live = await openSession(now);
      const rotated = await openSession(new Date(now.getTime() - 34 * DAY), 30 * DAY);
      const rotatedSuccessor = tokenRecord(new Date(now.getTime() - 5 * DAY));
      // Rotated five days ago, while the first token (expired four days ago) was still valid.
      expect((await subject.sessions.rotate(rotated.first.hash, { ...rotatedSuccessor, keyId: "k1" }, new Date(0))).kind).toBe("Rotated");
      const expired = await openSession(new Date(now.getTime() - 2 * DAY), DAY);
      const revokedRecently = await openSession(now);
      await subject.sessions.revoke({ sessionId: revokedRecently.session.id }, "sign_out", new Date(now.getTime() - DAY));
      const revokedLongAgo = await openSession(now);
      await subject.sessions.revoke({ sessionId: revokedLongAgo.session.id }, "sign_out", new Date(now.getTime() - 8 * DAY));

      // A batch of 1 exercises the batching.
      const removed = await subject.sessions.prune(now, new Date(now.getTime() - 7 * DAY), 1);
      const tokens = async (sessionId: string) => subject.prisma.refreshToken.count({ where: { sessionId } });
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
      expect(await subject.sessions.prune(now, new Date(now.getTime() - 7 * DAY), 1)).toEqual({ refreshTokens: 0, sessions: 0 });
    });
  });
}

sessionRepositoryContract("PostgreSQL", async () => {
  const testDatabase = await createTestDatabase();
  const { database } = await openDatabase({ kind: "postgres", url: testDatabase.url, poolSize: 10 });
  return {
    sessions: new SessionRepository(database.prisma),
    users: new UserRepository(database.prisma),
    prisma: database.prisma,
    async close() {
      await database.close();
      await testDatabase.drop();
    },
  };
});

sessionRepositoryContract("PGlite (embedded)", async () => {
  const pglite = await PGlite.create();
  await applyMigrations({ kind: "pglite", db: pglite });
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite) });
  return {
    sessions: new SessionRepository(prisma),
    users: new UserRepository(prisma),
    prisma,
    async close() {
      await prisma.$disconnect();
      await pglite.close();
    },
  };
});
