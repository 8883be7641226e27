/**
 * Stored users for the benchmark, made in SQL (generate_series) rather than through logins: a
 * million users in well under a minute. Rows look like the gateway's own — a verified Indian
 * number, a Truecaller identity whose `sub` the emulator can be told to report, a UUIDv7-shaped id
 * — so a login of seeded user `i` (see {@link seededUser}) is an ordinary returning-user login.
 */
import type pg from "pg";
import type { BenchUser } from "./emulator-control.js";

/** Statement size: large enough to be fast, small enough to report progress and not hold one huge transaction. */
const SEED_CHUNK = 100_000;
/** Digits after the 4-digit prefix of a bench number. */
const NUMBER_DIGITS = 8;
/** `sub` is 17 digits, like Truecaller's sample "13627101294235520". */
const SUB_DIGITS = 16;
/** The identity provider id of Truecaller's OAuth logins (src/providers/registry.ts). */
const TRUECALLER_IDENTITY = "truecaller";

/** Seeded users: +91 98xxxxxxxx, subs starting with 2. */
const SEEDED_NUMBER_PREFIX = "9198";
const SEEDED_SUB_PREFIX = "2";
/** Users the bench creates through new-user logins: +91 99xxxxxxxx, subs starting with 3 — never a seeded one. */
const NEW_NUMBER_PREFIX = "9199";
const NEW_SUB_PREFIX = "3";

/** Seeded user number `index`, as the emulator reports it. */
export function seededUser(index: number): BenchUser {
  return {
    phoneNumber: `${SEEDED_NUMBER_PREFIX}${String(index).padStart(NUMBER_DIGITS, "0")}`,
    sub: `${SEEDED_SUB_PREFIX}${String(index).padStart(SUB_DIGITS, "0")}`,
  };
}

/** The `index`-th user the bench creates by logging in (a number no seeded user has). */
export function newUser(index: number): BenchUser {
  return {
    phoneNumber: `${NEW_NUMBER_PREFIX}${String(index).padStart(NUMBER_DIGITS, "0")}`,
    sub: `${NEW_SUB_PREFIX}${String(index).padStart(SUB_DIGITS, "0")}`,
  };
}

/**
 * Inserts seeded users `start` … `start + count - 1` (skipping any that exist), each with its
 * Truecaller identity, then refreshes the planner's statistics and writes the dirty pages out, so
 * the next measurement meets neither stale plans nor a checkpoint of the seed.
 */
export async function seedUsers(
  client: pg.Client,
  { start, count, onProgress }: { start: number; count: number; onProgress?: (inserted: number, total: number) => void },
): Promise<number> {
  // The 48-bit time part of the ids, as UUIDv7 has it: ids of one seed ascend like the gateway's.
  const baseMs = Date.now() - count;
  let inserted = 0;
  for (let from = start; from < start + count; from += SEED_CHUNK) {
    const to = Math.min(start + count, from + SEED_CHUNK) - 1;
    const result = await client.query(
      `WITH inserted AS (
         INSERT INTO users AS u (id, phone_number, phone_number_verified, country_code, given_name, family_name, email, picture, gender,
                                 address_locality, address_postal_code, created_at, updated_at)
         SELECT (lpad(to_hex($3::bigint + i), 12, '0') || '7000' || '8' || lpad(to_hex(i), 15, '0'))::uuid,
                '+' || $4::text || lpad(i::text, ${NUMBER_DIGITS}, '0'),
                true,
                'IN',
                (ARRAY['Aarav','Arjun','Karthik','Rahul','Ananya','Divya','Kavya','Meera'])[1 + i % 8],
                (ARRAY['Gupta','Iyer','Menon','Nair','Patel','Reddy','Sharma','Singh'])[1 + (i / 8) % 8],
                'user' || i || '@example.com',
                'https://example.com/avatars/' || i || '.jpg',
                CASE WHEN i % 8 < 4 THEN 'male' ELSE 'female' END,
                'Mumbai',
                '400001',
                now(),
                now()
         FROM generate_series($1::int, $2::int) AS i
         ON CONFLICT DO NOTHING
         RETURNING u.id, u.phone_number
       )
       INSERT INTO identities (provider, subject, user_id, linked_at, last_login_at)
       SELECT $5, $6::text || lpad(substr(phone_number, ${2 + SEEDED_NUMBER_PREFIX.length}), ${SUB_DIGITS}, '0'), id, now(), now()
       FROM inserted
       ON CONFLICT DO NOTHING`,
      [from, to, baseMs, SEEDED_NUMBER_PREFIX, TRUECALLER_IDENTITY, SEEDED_SUB_PREFIX],
    );
    inserted += result.rowCount ?? 0;
    onProgress?.(to - start + 1, count);
  }
  await client.query("VACUUM (ANALYZE) users, identities");
  try {
    await client.query("CHECKPOINT");
  } catch {
    // Needs superuser or pg_checkpoint; without it the next checkpoint just comes later.
  }
  return inserted;
}

/** How many users a database holds (for `bench:seed` and the run's record). */
export async function countUsers(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ count: string }>("SELECT count(*) AS count FROM users");
  return Number(rows[0]!.count);
}
