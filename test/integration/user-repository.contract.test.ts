import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { PrismaClient } from "../../src/generated/prisma/client.js";
import { openDatabase } from "../../src/store/database.js";
import { UserRepository, type ProfileFields, type VerifiedLogin } from "../../src/store/user.repository.js";
import { createTestDatabase, openEmbeddedTestDatabase } from "../helpers/database.js";
import { TokenCipher } from "../../src/store/token-cipher.js";
import { newSessionRecord, testEncryptionKey, testTokenCipher } from "../helpers/sessions.js";

interface Subject {
  users: UserRepository;
  prisma: PrismaClient;
  /** A repository on the same database whose cipher has another key. */
  usersWithOtherKey: UserRepository;
  /** The same database with a new key first in the ring and `users`' key second, as during a key rotation. */
  usersAfterKeyRotation: UserRepository;
  close(): Promise<void>;
}

function login(overrides: Partial<VerifiedLogin> = {}): VerifiedLogin {
  return {
    phoneNumber: "+919876543210",
    countryCode: "IN",
    provider: "truecaller",
    subject: "sub-1",
    givenName: "Asha",
    familyName: "Rao",
    email: "asha@example.com",
    picture: undefined,
    gender: "female",
    addressLocality: "Bangalore",
    addressPostalCode: "560001",
    refreshToken: undefined,
    ...overrides,
  };
}

/** Every login opens a session; these tests look at users and identities only. */
function upsert(subject: Subject, verified: VerifiedLogin) {
  return subject.users.upsertVerifiedUser(verified, newSessionRecord());
}

async function identitiesOf(subject: Subject, userId: string): Promise<string[]> {
  const rows = await subject.prisma.identity.findMany({ where: { userId }, orderBy: [{ provider: "asc" }, { subject: "asc" }] });
  return rows.map((row) => `${row.provider}:${row.subject}`);
}

/** The contract UserRepository keeps on every database it runs on. */
function userRepositoryContract(name: string, open: () => Promise<Subject>) {
  describe(`UserRepository contract: ${name}`, () => {
    let subject: Subject;
    afterAll(async () => subject?.close());

    it("creates the user of a new number once, then finds it", async () => {
      subject = await open();
      const first = await upsert(subject, login({ phoneNumber: "+919800000001", subject: "a" }));
      expect(first.created).toBe(true);
      expect(first.user).toMatchObject({ phoneNumber: "+919800000001", phoneNumberVerified: true, countryCode: "IN", givenName: "Asha", picture: null });
      const again = await upsert(subject, login({ phoneNumber: "+919800000001", subject: "a", givenName: "Asha M." }));
      expect(again).toMatchObject({ created: false, user: { id: first.user.id, givenName: "Asha M." } });
      expect(again.user.updatedAt.getTime()).toBeGreaterThanOrEqual(first.user.updatedAt.getTime());
    });

    it("converges concurrent first logins of one number, exactly one created", async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, () => upsert(subject, login({ phoneNumber: "+919800000002", subject: "b" }))),
      );
      expect(new Set(results.map((result) => result.user.id)).size).toBe(1);
      expect(results.filter((result) => result.created)).toHaveLength(1);
      expect(await subject.prisma.identity.count({ where: { provider: "truecaller", subject: "b" } })).toBe(1);
    });

    it("answers a login with the user's identities as stored, the one just linked included, oldest link first", async () => {
      const first = await upsert(subject, login({ phoneNumber: "+919800000011", subject: "k", provider: "wgtwo" }));
      expect(first.identities).toEqual([{ provider: "wgtwo", linkedAt: expect.any(Date), lastLoginAt: expect.any(Date) }]);

      const second = await upsert(subject, login({ phoneNumber: "+919800000011", subject: "k" }));

      expect(second.identities.map((identity) => identity.provider)).toEqual(["wgtwo", "truecaller"]);
      expect(second.identities).toEqual((await subject.users.identitiesOf([second.user.id])).get(second.user.id));
      expect(second.identities[0]?.linkedAt).toEqual(first.identities[0]?.linkedAt);
    });

    it("keeps stored fields the provider did not send this time", async () => {
      await upsert(subject, login({ phoneNumber: "+919800000003", subject: "c" }));
      const again = await upsert(subject,
        login({ phoneNumber: "+919800000003", subject: "c", email: undefined, addressLocality: undefined, addressPostalCode: undefined }),
      );
      expect(again.user).toMatchObject({ email: "asha@example.com", addressLocality: "Bangalore" });
    });

    it("gives a recycled number's new owner a user of their own when another account at the provider verifies it", async () => {
      const previous = await upsert(subject, login({ phoneNumber: "+919800000004", subject: "old-owner" }));
      const next = await upsert(subject,
        login({ phoneNumber: "+919800000004", subject: "new-owner", givenName: "Ravi", familyName: undefined, email: undefined, gender: undefined }),
      );
      // Nothing of the previous owner's reaches the new one, not even the id other services keep records under.
      expect(next.created).toBe(true);
      expect(next.user).toMatchObject({ givenName: "Ravi", familyName: null, email: null, gender: null });
      expect(next.user.id).not.toBe(previous.user.id);
      expect(await identitiesOf(subject, next.user.id)).toEqual(["truecaller:new-owner"]);
      // The previous owner's user gives the number up, loses its identities, and is found by id no more.
      expect(await identitiesOf(subject, previous.user.id)).toEqual([]);
      expect(await subject.prisma.user.findUniqueOrThrow({ where: { id: previous.user.id } })).toMatchObject({
        phoneNumber: null,
        numberReleasedAt: expect.any(Date),
        givenName: null,
        email: null,
        addressLocality: null,
      });
      expect([...(await subject.users.findByIds([previous.user.id, next.user.id])).keys()]).toEqual([next.user.id]);
      // ...so the new owner's next login keeps what they shared before.
      await upsert(subject, login({ phoneNumber: "+919800000004", subject: "new-owner", email: "ravi@example.com" }));
      const later = await upsert(subject, login({ phoneNumber: "+919800000004", subject: "new-owner", email: undefined }));
      expect(later.user.email).toBe("ravi@example.com");
    });

    it("replaces the profile of a number its previous owner left for another", async () => {
      await upsert(subject, login({ phoneNumber: "+919800000007", subject: "alice", email: "alice@example.com" }));
      await upsert(subject, login({ phoneNumber: "+919800000008", subject: "alice" }));
      const bob = await upsert(subject,
        login({ phoneNumber: "+919800000007", subject: "bob", givenName: "Bob", email: undefined, addressLocality: undefined }),
      );
      expect(bob.user).toMatchObject({ givenName: "Bob", email: null, addressLocality: null });
      expect(bob.created).toBe(true);
    });

    it("keeps the profile when the same person adds another provider", async () => {
      await upsert(subject, login({ phoneNumber: "+919800000009", subject: "tc-sub" }));
      const other = await upsert(subject,
        login({ phoneNumber: "+919800000009", provider: "wgtwo", subject: "wg-sub", givenName: undefined, email: undefined }),
      );
      expect(other.user).toMatchObject({ givenName: "Asha", email: "asha@example.com" });
      expect(await identitiesOf(subject, other.user.id)).toEqual(["truecaller:tc-sub", "wgtwo:wg-sub"]);
    });

    it("moves an identity to the number it now verifies", async () => {
      const before = await upsert(subject, login({ phoneNumber: "+919800000005", subject: "mover" }));
      const after = await upsert(subject, login({ phoneNumber: "+919800000006", subject: "mover" }));
      expect(after.user.id).not.toBe(before.user.id);
      const identity = await subject.prisma.identity.findUniqueOrThrow({ where: { provider_subject: { provider: "truecaller", subject: "mover" } } });
      expect(identity.userId).toBe(after.user.id);
    });

    it("stores a provider refresh token sealed and opens it again", async () => {
      const { user } = await upsert(subject, login({ phoneNumber: "+919800000101", provider: "wgtwo", subject: "wg-rt-1", refreshToken: "rt-plaintext-1" }));
      const column = await storedRefreshToken(subject, "wgtwo", "wg-rt-1");
      expect(column).toEqual(expect.any(String));
      expect(column).not.toContain("rt-plaintext-1");
      expect(await subject.users.findIdentity(user.id, "wgtwo")).toEqual({
        subject: "wg-rt-1",
        refreshToken: { token: "rt-plaintext-1", sealed: column },
        refreshTokenUnreadable: false,
      });
    });

    it("keeps the earlier refresh token when a later login brings none", async () => {
      const first = await upsert(subject, login({ phoneNumber: "+919800000102", provider: "wgtwo", subject: "wg-rt-2", refreshToken: "rt-plaintext-2" }));
      await upsert(subject, login({ phoneNumber: "+919800000102", provider: "wgtwo", subject: "wg-rt-2", refreshToken: undefined }));
      expect((await subject.users.findIdentity(first.user.id, "wgtwo"))?.refreshToken?.token).toBe("rt-plaintext-2");
      // A later login that does bring one replaces it.
      await upsert(subject, login({ phoneNumber: "+919800000102", provider: "wgtwo", subject: "wg-rt-2", refreshToken: "rt-plaintext-2b" }));
      expect((await subject.users.findIdentity(first.user.id, "wgtwo"))?.refreshToken?.token).toBe("rt-plaintext-2b");
    });

    it("re-seals a refresh token sealed with an older key of the ring when it is read, so the old key can be retired", async () => {
      const { user } = await upsert(subject, login({ phoneNumber: "+919800000107", provider: "wgtwo", subject: "wg-rt-7", refreshToken: "rt-plaintext-7" }));
      expect(await storedRefreshToken(subject, "wgtwo", "wg-rt-7")).toMatch(/^old\./);

      const found = await subject.usersAfterKeyRotation.findIdentity(user.id, "wgtwo");
      expect(found?.refreshToken?.token).toBe("rt-plaintext-7");
      const column = await storedRefreshToken(subject, "wgtwo", "wg-rt-7");
      expect(column).toMatch(/^new\./);
      expect(found?.refreshToken?.sealed).toBe(column);
    });

    it("finds the identity without a refresh token when its key is not in the ring, or none was granted", async () => {
      const { user } = await upsert(subject, login({ phoneNumber: "+919800000103", provider: "wgtwo", subject: "wg-rt-3", refreshToken: "rt-plaintext-3" }));
      expect(await subject.usersWithOtherKey.findIdentity(user.id, "wgtwo")).toEqual({ subject: "wg-rt-3", refreshToken: undefined, refreshTokenUnreadable: true });
      expect(await subject.users.findIdentity(user.id, "truecaller")).toBeUndefined();
      const other = await upsert(subject, login({ phoneNumber: "+919800000104", provider: "oidc", subject: "oidc-no-rt" }));
      expect(await subject.users.findIdentity(other.user.id, "oidc")).toEqual({ subject: "oidc-no-rt", refreshToken: undefined, refreshTokenUnreadable: false });
      expect(await subject.users.findIdentity(randomUUID(), "oidc")).toBeUndefined();
    });

    it("does not open a sealed refresh token copied onto another identity", async () => {
      const a = await upsert(subject, login({ phoneNumber: "+919800000105", provider: "wgtwo", subject: "wg-rt-5a", refreshToken: "rt-plaintext-5" }));
      const b = await upsert(subject, login({ phoneNumber: "+919800000106", provider: "wgtwo", subject: "wg-rt-5b" }));
      const sealed = await storedRefreshToken(subject, "wgtwo", "wg-rt-5a");
      await subject.prisma.identity.update({ where: { provider_subject: { provider: "wgtwo", subject: "wg-rt-5b" } }, data: { refreshToken: sealed } });
      expect((await subject.users.findIdentity(a.user.id, "wgtwo"))?.refreshToken?.token).toBe("rt-plaintext-5");
      expect(await subject.users.findIdentity(b.user.id, "wgtwo")).toEqual({ subject: "wg-rt-5b", refreshToken: undefined, refreshTokenUnreadable: true });
    });

    it("replaces a refresh token only while it is still the one read (compare-and-set)", async () => {
      const { user } = await upsert(subject, login({ phoneNumber: "+919800000107", provider: "wgtwo", subject: "wg-rt-7", refreshToken: "rt-7-a" }));
      const identity = { provider: "wgtwo", subject: "wg-rt-7" } as const;
      const read = (await subject.users.findIdentity(user.id, "wgtwo"))?.refreshToken;
      if (!read) throw new Error("expected a stored refresh token");
      expect(await subject.users.replaceRefreshToken(identity, read, "rt-7-b")).toBe(true);
      // The racing refresh read the same token: it must not overwrite the rotation.
      expect(await subject.users.replaceRefreshToken(identity, read, "rt-7-c")).toBe(false);
      expect(await subject.users.replaceRefreshToken(identity, read, undefined)).toBe(false);
      const current = (await subject.users.findIdentity(user.id, "wgtwo"))?.refreshToken;
      expect(current?.token).toBe("rt-7-b");
      expect(current?.sealed).not.toContain("rt-7-b");
      // The same token for another identity replaces nothing.
      if (!current) throw new Error("expected a stored refresh token");
      expect(await subject.users.replaceRefreshToken({ provider: "wgtwo", subject: "someone-else" }, current, "rt-x")).toBe(false);
      expect(await subject.users.replaceRefreshToken({ provider: "oidc", subject: "wg-rt-7" }, current, "rt-x")).toBe(false);
      expect((await subject.users.findIdentity(user.id, "wgtwo"))?.refreshToken?.token).toBe("rt-7-b");
    });

    it("clears the refresh token when replaced with none", async () => {
      const { user } = await upsert(subject, login({ phoneNumber: "+919800000108", provider: "wgtwo", subject: "wg-rt-8", refreshToken: "rt-8" }));
      const read = (await subject.users.findIdentity(user.id, "wgtwo"))?.refreshToken;
      if (!read) throw new Error("expected a stored refresh token");
      expect(await subject.users.replaceRefreshToken({ provider: "wgtwo", subject: "wg-rt-8" }, read, undefined)).toBe(true);
      expect(await storedRefreshToken(subject, "wgtwo", "wg-rt-8")).toBeNull();
      expect(await subject.users.findIdentity(user.id, "wgtwo")).toEqual({ subject: "wg-rt-8", refreshToken: undefined, refreshTokenUnreadable: false });
      expect(await subject.users.replaceRefreshToken({ provider: "wgtwo", subject: "wg-rt-8" }, read, "rt-8-b")).toBe(false);
    });

    it("refreshes the profile, keeping stored values the provider did not send", async () => {
      const { user } = await upsert(subject, login({ phoneNumber: "+919800000109", provider: "wgtwo", subject: "wg-p-9" }));
      const refreshed = await subject.users.refreshProfile(user.id, { provider: "wgtwo", subject: "wg-p-9" }, "+919800000109", {
        ...NO_FIELDS,
        givenName: "Asha M.",
        email: "asha.m@example.com",
        picture: "https://example.com/asha.png",
      });
      expect(refreshed).toMatchObject({
        id: user.id,
        phoneNumber: "+919800000109",
        countryCode: "IN",
        givenName: "Asha M.",
        familyName: "Rao",
        email: "asha.m@example.com",
        picture: "https://example.com/asha.png",
        gender: "female",
        addressLocality: "Bangalore",
        addressPostalCode: "560001",
      });
      expect(refreshed?.updatedAt.getTime()).toBeGreaterThanOrEqual(user.updatedAt.getTime());
      const unchanged = await subject.users.refreshProfile(user.id, { provider: "wgtwo", subject: "wg-p-9" }, "+919800000109", NO_FIELDS);
      expect(unchanged).toMatchObject({ givenName: "Asha M.", familyName: "Rao", email: "asha.m@example.com" });
    });

    it("refuses to refresh the profile once the identity is no longer linked to the user", async () => {
      const before = await upsert(subject, login({ phoneNumber: "+919800000110", provider: "wgtwo", subject: "wg-p-10" }));
      await upsert(subject, login({ phoneNumber: "+919800000111", provider: "wgtwo", subject: "wg-p-10" }));
      const stale = await subject.users.refreshProfile(before.user.id, { provider: "wgtwo", subject: "wg-p-10" }, "+919800000110", {
        ...NO_FIELDS,
        givenName: "Moved",
      });
      expect(stale).toBeUndefined();
      expect((await subject.users.findByIds([before.user.id])).get(before.user.id)?.givenName).toBe("Asha");
      // Nor for an identity the user never had.
      expect(await subject.users.refreshProfile(before.user.id, { provider: "oidc", subject: "wg-p-10" }, "+919800000110", NO_FIELDS)).toBeUndefined();
      expect(await subject.users.refreshProfile(randomUUID(), { provider: "wgtwo", subject: "wg-p-10" }, "+919800000111", NO_FIELDS)).toBeUndefined();
    });

    it("refuses to refresh the profile when the number differs from the user's", async () => {
      const { user } = await upsert(subject, login({ phoneNumber: "+919800000112", provider: "wgtwo", subject: "wg-p-12" }));
      const result = await subject.users.refreshProfile(user.id, { provider: "wgtwo", subject: "wg-p-12" }, "+919800000199", { ...NO_FIELDS, givenName: "Other" });
      expect(result).toBeUndefined();
      expect((await subject.users.findByIds([user.id])).get(user.id)?.givenName).toBe("Asha");
    });

    it("lists each user's identities oldest link first, then by provider, and leaves out users without any", async () => {
      const first = await upsert(subject, login({ phoneNumber: "+919800000113", provider: "wgtwo", subject: "wg-l-13" }));
      await upsert(subject, login({ phoneNumber: "+919800000113", provider: "oidc", subject: "oidc-l-13" }));
      await upsert(subject, login({ phoneNumber: "+919800000113", provider: "truecaller", subject: "tc-l-13" }));
      const linkedAt = new Date("2026-01-01T00:00:00.000Z");
      const later = new Date("2026-01-02T00:00:00.000Z");
      await setLinkedAt(subject, "wgtwo", "wg-l-13", linkedAt);
      await setLinkedAt(subject, "truecaller", "tc-l-13", later);
      await setLinkedAt(subject, "oidc", "oidc-l-13", later);
      const other = await upsert(subject, login({ phoneNumber: "+919800000114", provider: "truecaller", subject: "tc-l-14" }));
      // A user whose only identity moved away has none left.
      const emptied = await upsert(subject, login({ phoneNumber: "+919800000115", provider: "oidc", subject: "oidc-l-15" }));
      await upsert(subject, login({ phoneNumber: "+919800000116", provider: "oidc", subject: "oidc-l-15" }));

      const byUser = await subject.users.identitiesOf([first.user.id, other.user.id, emptied.user.id, randomUUID()]);
      expect([...byUser.keys()].sort()).toEqual([first.user.id, other.user.id].sort());
      expect(byUser.get(first.user.id)?.map((identity) => [identity.provider, identity.linkedAt.toISOString()])).toEqual([
        ["wgtwo", linkedAt.toISOString()],
        ["oidc", later.toISOString()],
        ["truecaller", later.toISOString()],
      ]);
      expect(byUser.get(first.user.id)?.every((identity) => identity.lastLoginAt instanceof Date)).toBe(true);
      expect(byUser.get(other.user.id)?.map((identity) => identity.provider)).toEqual(["truecaller"]);
      expect((await subject.users.identitiesOf([])).size).toBe(0);
    });
  });
}

const NO_FIELDS: ProfileFields = {
  countryCode: undefined,
  givenName: undefined,
  familyName: undefined,
  email: undefined,
  picture: undefined,
  gender: undefined,
  addressLocality: undefined,
  addressPostalCode: undefined,
};

/** The refresh token column as stored. */
async function storedRefreshToken(subject: Subject, provider: string, identitySubject: string): Promise<string | null> {
  const identity = await subject.prisma.identity.findUniqueOrThrow({ where: { provider_subject: { provider, subject: identitySubject } } });
  return identity.refreshToken;
}

async function setLinkedAt(subject: Subject, provider: string, identitySubject: string, linkedAt: Date): Promise<void> {
  await subject.prisma.identity.update({ where: { provider_subject: { provider, subject: identitySubject } }, data: { linkedAt } });
}

/** The repositories of one database: with a key, with an unrelated key, and with that key rotated out of first place. */
function repositories(prisma: PrismaClient) {
  const key = testEncryptionKey("old");
  return {
    users: new UserRepository(prisma, new TokenCipher([key]), 90),
    usersWithOtherKey: new UserRepository(prisma, testTokenCipher(), 90),
    usersAfterKeyRotation: new UserRepository(prisma, new TokenCipher([testEncryptionKey("new"), key]), 90),
  };
}

userRepositoryContract("PostgreSQL", async () => {
  const testDatabase = await createTestDatabase();
  const { database } = await openDatabase({ kind: "postgres", url: testDatabase.url, poolSize: 10 });
  return {
    ...repositories(database.prisma),
    prisma: database.prisma,
    async close() {
      await database.close();
      await testDatabase.drop();
    },
  };
});

userRepositoryContract("PGlite (embedded)", async () => {
  const { database, close } = await openEmbeddedTestDatabase();
  return {
    ...repositories(database.prisma),
    prisma: database.prisma,
    close,
  };
});
