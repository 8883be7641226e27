import { createHash } from "node:crypto";
import { v7 as uuidv7 } from "uuid";
import { Prisma, type PrismaClient } from "../generated/prisma/client.js";
import { NUMBER_ONLY_PROVIDERS, type IdentityProviderId } from "../providers/provider.js";
import type { NewSession, RevocationReason } from "./session.repository.js";
import type { TokenCipher } from "./token-cipher.js";
import { retriedOnDeadlock } from "./transactions.js";

/** Columns filled from the provider's profile (the rest are identity and bookkeeping). */
const PROFILE_COLUMNS = [
  "country_code",
  "given_name",
  "family_name",
  "email",
  "picture",
  "gender",
  "address_locality",
  "address_postal_code",
] as const;
type ProfileColumn = (typeof PROFILE_COLUMNS)[number];

const NUMBER_CHANGED_HANDS: RevocationReason = "number_changed_hands";
const IDENTITY_MOVED: RevocationReason = "identity_moved";
/**
 * The first key of the login's advisory locks (the two-int4 form, a key space
 * apart from one-bigint locks such as Prisma's migration lock).
 */
const LOGIN_LOCK_CLASS = 0x70686f6e; // "phon"

/** The columns of a {@link StoredUser}, selected from a users row aliased `u`. */
export const STORED_USER_COLUMNS = Prisma.raw(
  `u.id::text AS "id", u.phone_number AS "phoneNumber", u.phone_number_verified AS "phoneNumberVerified",
   u.country_code AS "countryCode", u.given_name AS "givenName", u.family_name AS "familyName", u.email, u.picture,
   u.gender, u.address_locality AS "addressLocality", u.address_postal_code AS "addressPostalCode",
   u.created_at AS "createdAt", u.updated_at AS "updatedAt"`,
);

/** A stored user, as the rest of the gateway sees it. */
export interface StoredUser {
  readonly id: string;
  /** E.164. */
  readonly phoneNumber: string;
  readonly phoneNumberVerified: boolean;
  readonly countryCode: string | null;
  readonly givenName: string | null;
  readonly familyName: string | null;
  readonly email: string | null;
  readonly picture: string | null;
  readonly gender: string | null;
  readonly addressLocality: string | null;
  readonly addressPostalCode: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** Profile fields a provider may report; absent ones keep their stored values. */
export interface ProfileFields {
  readonly countryCode: string | undefined;
  readonly givenName: string | undefined;
  readonly familyName: string | undefined;
  readonly email: string | undefined;
  readonly picture: string | undefined;
  readonly gender: string | undefined;
  readonly addressLocality: string | undefined;
  readonly addressPostalCode: string | undefined;
}

/** A login with a verified phone number, as the provider reported it. */
export interface VerifiedLogin extends ProfileFields {
  /** E.164. */
  readonly phoneNumber: string;
  readonly provider: IdentityProviderId;
  readonly subject: string;
  /** The provider's refresh token, when it granted offline access; kept sealed beside the identity. */
  readonly refreshToken: string | undefined;
}

/** A provider account linked to a user. */
export interface StoredIdentity {
  readonly provider: IdentityProviderId;
  readonly linkedAt: Date;
  readonly lastLoginAt: Date;
}

/** An identity as record_verified_login returns it (JSON: times as ISO strings). */
interface IdentityRow {
  readonly provider: IdentityProviderId;
  readonly linkedAt: string;
  readonly lastLoginAt: string;
}

/** An identity's provider refresh token: opened for use, and sealed as stored (to replace exactly that one). */
export interface StoredRefreshToken {
  readonly token: string;
  readonly sealed: string;
}

/** Which identity: the provider and the account's subject there. */
export interface IdentityKey {
  readonly provider: IdentityProviderId;
  readonly subject: string;
}

/** A user's identity at one provider, as the gateway uses it on the user's behalf. */
export interface LinkedIdentity {
  readonly subject: string;
  /** Absent when the provider granted no offline access, the token was refused, or it does not open. */
  readonly refreshToken: StoredRefreshToken | undefined;
  /** A refresh token is stored but no key of TOKEN_ENCRYPTION_KEYS opens it (its key was retired too early). */
  readonly refreshTokenUnreadable: boolean;
}

/** Users keyed by verified E.164 phone number, each with the provider identities that proved it. */
export class UserRepository {
  constructor(
    private readonly prisma: PrismaClient,
    /** Seals provider refresh tokens at rest. */
    private readonly cipher: TokenCipher,
    /** A number nobody logged in with for this long may have been given to someone else. */
    private readonly recycledAfterDays: number,
  ) {}

  /**
   * Records a verified login in one transaction: creates the user of the phone
   * number or refreshes the existing one, records the provider identity beside
   * it, and opens `session` for the user — so a stored login always has its
   * session. Logins of one number, and of one provider account, take turns on
   * transaction-scoped advisory locks: each sees what the previous one
   * committed, so of two people verifying one number at once, the later keeps
   * the number and the earlier's session is revoked with it.
   *
   * Concurrent first logins of one number converge on one row; `xmax = 0`
   * holds only for the row a statement inserted, so exactly one of them
   * reports `created`.
   *
   * The number stays with its user while the person logging in is its owner:
   * this identity is linked to it, or only other providers' identities are
   * (the same person adding a provider); profile fields the provider did not
   * send (scopes not granted) keep their stored values. Otherwise the number
   * changed hands — another account at this provider holds it, its previous
   * owner moved to a new number and left it without identities, or nobody
   * logged in with it for `recycledAfterDays` (the only
   * sign a number-only proof such as Truecaller's OTP can give, since its
   * identity is the number; a refreshed session proves nothing, a lost phone's
   * app refreshes too). Then the previous owner's user releases the number and
   * its profile (the row and its id stay for the records other services hold
   * under it, but it is no longer found), loses every identity (and the
   * provider refresh tokens kept beside them) and every session, and the new
   * owner gets a new user.
   * An identity that moved to another number follows it, with a new
   * `linked_at`; when the account it left has no identity left, that account's
   * sessions are revoked: their tokens claim a number nobody proves any more.
   */
  async upsertVerifiedUser(login: VerifiedLogin, session: NewSession): Promise<{ user: StoredUser; created: boolean; identities: StoredIdentity[] }> {
    const profile = profileColumns(login);
    const numberOnly = NUMBER_ONLY_PROVIDERS.has(login.provider);
    const sealedRefreshToken = login.refreshToken === undefined ? null : this.seal(login, login.refreshToken);
    // Logins of one number, and of one provider account, take turns: the statement's snapshot is taken
    // before it would wait for another login's row lock, so two at once could each miss the other.
    // Both locks are taken in key order, so two logins never wait for each other's second lock.
    const [first, second] = [lockKey(`number:${login.phoneNumber}`), lockKey(`identity:${login.provider}:${login.subject}`)].sort((a, b) => a - b);
    // One round trip: the function (migration 20261122050000) takes the locks, releases a number that changed hands,
    // upserts, opens the session and reads the identities, each in a statement of its own, in this statement's transaction.
    const rows = await retriedOnDeadlock(() => this.prisma.$queryRaw<Array<StoredUser & { created: boolean; identities: IdentityRow[] }>>`
      SELECT ${STORED_USER_COLUMNS}, u.created, u.identities
      FROM record_verified_login(
        ${LOGIN_LOCK_CLASS}::int4, ${first}::int4, ${second}::int4,
        ${login.phoneNumber}::text, ${login.provider}::text, ${login.subject}::text, ${numberOnly}::boolean, ${this.recycledAfterDays}::int4,
        ${uuidv7()}::uuid, ${Prisma.join(PROFILE_COLUMNS.map((column) => Prisma.sql`${profile[column] ?? null}::text`))},
        ${sealedRefreshToken}::text, ${NUMBER_CHANGED_HANDS}::text, ${IDENTITY_MOVED}::text,
        ${session.id}::uuid, ${session.createdAt}::timestamptz,
        ${session.refreshToken.hash}::bytea, ${session.refreshToken.accessTokenId}::uuid,
        ${session.refreshToken.issuedAt}::timestamptz, ${session.refreshToken.expiresAt}::timestamptz
      ) u`);
    const row = rows[0];
    if (!row) throw new Error("user upsert returned no row");
    const { created, identities, ...user } = row;
    return {
      user,
      created,
      identities: identities.map(({ provider, linkedAt, lastLoginAt }) => ({ provider, linkedAt: new Date(linkedAt), lastLoginAt: new Date(lastLoginAt) })),
    };
  }

  /**
   * Writes a re-read provider profile onto the user, while the identity is
   * still linked to the user and the profile still proves the user's number.
   * Fields the provider did not send keep their values. `undefined` when the
   * identity or the number has moved meanwhile.
   */
  async refreshProfile(
    userId: string,
    identity: IdentityKey,
    phoneNumber: string,
    fields: ProfileFields,
  ): Promise<StoredUser | undefined> {
    const profile = profileColumns(fields);
    const rows = await this.prisma.$queryRaw<StoredUser[]>`
      UPDATE users u SET ${Prisma.join(
        PROFILE_COLUMNS.map((column) => Prisma.sql`${Prisma.raw(column)} = COALESCE(${profile[column] ?? null}, u.${Prisma.raw(column)})`),
      )}, updated_at = now()
      WHERE u.id = ${userId}::uuid AND u.phone_number = ${phoneNumber}
        AND EXISTS (SELECT 1 FROM identities i WHERE i.user_id = u.id AND i.provider = ${identity.provider} AND i.subject = ${identity.subject})
      RETURNING ${STORED_USER_COLUMNS}`;
    return rows[0];
  }

  /**
   * The user's identity at a provider, with its refresh token when one is kept
   * and still opens. A token sealed with an older key of the ring is re-sealed
   * with the current one on the way, so that retiring the old key loses nothing
   * that is still in use.
   */
  async findIdentity(userId: string, provider: IdentityProviderId): Promise<LinkedIdentity | undefined> {
    // A re-seal can lose to a concurrent rotation; then read again what that one stored.
    for (let attempt = 0; ; attempt += 1) {
      const rows = await this.prisma.$queryRaw<Array<{ subject: string; refreshToken: string | null }>>`
        SELECT subject, refresh_token AS "refreshToken" FROM identities WHERE user_id = ${userId}::uuid AND provider = ${provider}`;
      const row = rows[0];
      if (!row) return undefined;
      if (row.refreshToken === null) return { subject: row.subject, refreshToken: undefined, refreshTokenUnreadable: false };
      const identity = { provider, subject: row.subject };
      const token = this.cipher.open(row.refreshToken, refreshTokenContext(provider, row.subject));
      if (token === undefined) return { subject: row.subject, refreshToken: undefined, refreshTokenUnreadable: true };
      if (this.cipher.sealedWithCurrentKey(row.refreshToken) || attempt > 0) {
        return { subject: row.subject, refreshToken: { token, sealed: row.refreshToken }, refreshTokenUnreadable: false };
      }
      const resealed = this.seal(identity, token);
      if (await this.replaceSealed(identity, row.refreshToken, resealed)) {
        return { subject: row.subject, refreshToken: { token, sealed: resealed }, refreshTokenUnreadable: false };
      }
    }
  }

  /**
   * Replaces an identity's refresh token — with the rotated one, or with none
   * when the provider refused it — only if it is still `previous`: of two
   * refreshes racing with one token, the provider honours one, and the other
   * must not overwrite its result. Returns whether it replaced.
   */
  replaceRefreshToken(identity: IdentityKey, previous: StoredRefreshToken, next: string | undefined): Promise<boolean> {
    return this.replaceSealed(identity, previous.sealed, next === undefined ? null : this.seal(identity, next));
  }

  private async replaceSealed(identity: IdentityKey, previous: string, next: string | null): Promise<boolean> {
    const replaced = await this.prisma.$executeRaw`
      UPDATE identities SET refresh_token = ${next}
      WHERE provider = ${identity.provider} AND subject = ${identity.subject} AND refresh_token = ${previous}`;
    return replaced === 1;
  }

  private seal(identity: IdentityKey, refreshToken: string): string {
    return this.cipher.seal(refreshToken, refreshTokenContext(identity.provider, identity.subject));
  }

  /** The identities of each user, oldest link first; users without any are absent. */
  async identitiesOf(userIds: readonly string[]): Promise<Map<string, StoredIdentity[]>> {
    const rows = await this.prisma.$queryRaw<Array<StoredIdentity & { userId: string }>>`
      SELECT user_id::text AS "userId", provider, linked_at AS "linkedAt", last_login_at AS "lastLoginAt"
      FROM identities WHERE user_id = ANY(${userIds}::uuid[]) ORDER BY linked_at, provider`;
    const byUser = new Map<string, StoredIdentity[]>();
    for (const { userId, ...identity } of rows) byUser.set(userId, [...(byUser.get(userId) ?? []), identity]);
    return byUser;
  }

  /** The users of those ids that exist and still hold their number (a released user is nobody's any more). */
  async findByIds(ids: readonly string[]): Promise<Map<string, StoredUser>> {
    const rows = await this.prisma.$queryRaw<StoredUser[]>`
      SELECT ${STORED_USER_COLUMNS} FROM users u WHERE u.id = ANY(${ids}::uuid[]) AND u.phone_number IS NOT NULL`;
    return new Map(rows.map((row) => [row.id, row]));
  }
}

function profileColumns(fields: ProfileFields): Record<ProfileColumn, string | undefined> {
  return {
    country_code: fields.countryCode,
    given_name: fields.givenName,
    family_name: fields.familyName,
    email: fields.email,
    picture: fields.picture,
    gender: fields.gender,
    address_locality: fields.addressLocality,
    address_postal_code: fields.addressPostalCode,
  };
}

/** Authenticated data of a sealed refresh token: a sealed value copied onto another identity does not open. */
function refreshTokenContext(provider: IdentityProviderId, subject: string): string {
  return `provider-refresh-token:${provider}:${subject}`;
}

/** A 32-bit advisory lock key for `name`; a rare collision only makes two unrelated logins take turns. */
function lockKey(name: string): number {
  return createHash("sha256").update(name).digest().readInt32BE(0);
}
