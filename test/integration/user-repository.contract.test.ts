import { afterAll, describe, expect, it } from "vitest";
import { PrismaClient } from "../../src/generated/prisma/client.js";
import { openDatabase } from "../../src/store/database.js";
import { UserRepository, type VerifiedLogin } from "../../src/store/user.repository.js";
import { createTestDatabase, openEmbeddedTestDatabase } from "../helpers/database.js";
import { newSessionRecord, testTokenCipher } from "../helpers/sessions.js";

interface Subject {
  users: UserRepository;
  prisma: PrismaClient;
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

    it("keeps stored fields the provider did not send this time", async () => {
      await upsert(subject, login({ phoneNumber: "+919800000003", subject: "c" }));
      const again = await upsert(subject,
        login({ phoneNumber: "+919800000003", subject: "c", email: undefined, addressLocality: undefined, addressPostalCode: undefined }),
      );
      expect(again.user).toMatchObject({ email: "asha@example.com", addressLocality: "Bangalore" });
    });

    it("replaces the previous owner's profile when another account at the provider verifies a recycled number", async () => {
      const previous = await upsert(subject, login({ phoneNumber: "+919800000004", subject: "old-owner" }));
      const next = await upsert(subject,
        login({ phoneNumber: "+919800000004", subject: "new-owner", givenName: "Ravi", familyName: undefined, email: undefined, gender: undefined }),
      );
      expect(next.user).toMatchObject({ id: previous.user.id, givenName: "Ravi", familyName: null, email: null, gender: null });
      // The previous owner's account is unlinked from the number it no longer holds...
      expect(await identitiesOf(subject, previous.user.id)).toEqual(["truecaller:new-owner"]);
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
  });
}

userRepositoryContract("PostgreSQL", async () => {
  const testDatabase = await createTestDatabase();
  const { database } = await openDatabase({ kind: "postgres", url: testDatabase.url, poolSize: 10 });
  return {
    users: new UserRepository(database.prisma, testTokenCipher()),
    prisma: database.prisma,
    async close() {
      await database.close();
      await testDatabase.drop();
    },
  };
});

userRepositoryContract("PGlite (embedded)", async () => {
  const { database, close } = await openEmbeddedTestDatabase();
  return { users: new UserRepository(database.prisma, testTokenCipher()), prisma: database.prisma, close };
});
