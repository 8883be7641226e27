import { v7 as uuidv7 } from "uuid";
import type { PrismaClient } from "../generated/prisma/client.js";

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

/** A login with a verified phone number, as the provider reported it. */
export interface VerifiedLogin {
  /** E.164. */
  readonly phoneNumber: string;
  readonly countryCode: string | undefined;
  readonly provider: string;
  readonly subject: string;
  readonly givenName: string | undefined;
  readonly familyName: string | undefined;
  readonly email: string | undefined;
  readonly picture: string | undefined;
  readonly gender: string | undefined;
  readonly addressLocality: string | undefined;
  readonly addressPostalCode: string | undefined;
}

/** Users keyed by verified E.164 phone number, each with the provider identities that proved it. */
export class UserRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Creates the user of a verified phone number or refreshes the existing one,
   * and records the provider identity beside it — one statement, one round trip.
   *
   * Concurrent first logins of one number converge on one row through
   * `ON CONFLICT (phone_number)`; `xmax = 0` holds only for the row this
   * statement inserted, so exactly one of them reports `created`. Profile fields
   * the provider did not send (scopes not granted) keep their stored values.
   * An identity that moved to another number follows it, with a new `linked_at`.
   */
  async upsertVerifiedUser(login: VerifiedLogin): Promise<{ user: StoredUser; created: boolean }> {
    const rows = await this.prisma.$queryRaw<Array<StoredUser & { created: boolean }>>`
      WITH upserted AS (
        INSERT INTO users AS u (id, phone_number, phone_number_verified, country_code, given_name, family_name,
                                email, picture, gender, address_locality, address_postal_code, created_at, updated_at)
        VALUES (${uuidv7()}::uuid, ${login.phoneNumber}, true, ${login.countryCode ?? null}, ${login.givenName ?? null},
                ${login.familyName ?? null}, ${login.email ?? null}, ${login.picture ?? null}, ${login.gender ?? null},
                ${login.addressLocality ?? null}, ${login.addressPostalCode ?? null}, now(), now())
        ON CONFLICT (phone_number) DO UPDATE SET
          phone_number_verified = true,
          country_code = COALESCE(EXCLUDED.country_code, u.country_code),
          given_name = COALESCE(EXCLUDED.given_name, u.given_name),
          family_name = COALESCE(EXCLUDED.family_name, u.family_name),
          email = COALESCE(EXCLUDED.email, u.email),
          picture = COALESCE(EXCLUDED.picture, u.picture),
          gender = COALESCE(EXCLUDED.gender, u.gender),
          address_locality = COALESCE(EXCLUDED.address_locality, u.address_locality),
          address_postal_code = COALESCE(EXCLUDED.address_postal_code, u.address_postal_code),
          updated_at = now()
        RETURNING u.*, (u.xmax = 0) AS created
      ), linked AS (
        INSERT INTO identities AS i (provider, subject, user_id, linked_at, last_login_at)
        SELECT ${login.provider}, ${login.subject}, upserted.id, now(), now() FROM upserted
        ON CONFLICT (provider, subject) DO UPDATE SET
          user_id = EXCLUDED.user_id,
          linked_at = CASE WHEN i.user_id = EXCLUDED.user_id THEN i.linked_at ELSE EXCLUDED.linked_at END,
          last_login_at = EXCLUDED.last_login_at
      )
      SELECT id::text AS "id", phone_number AS "phoneNumber", phone_number_verified AS "phoneNumberVerified",
             country_code AS "countryCode", given_name AS "givenName", family_name AS "familyName", email, picture,
             gender, address_locality AS "addressLocality", address_postal_code AS "addressPostalCode",
             created_at AS "createdAt", updated_at AS "updatedAt", created
      FROM upserted`;
    const row = rows[0];
    if (!row) throw new Error("user upsert returned no row");
    const { created, ...user } = row;
    return { user, created };
  }
}
