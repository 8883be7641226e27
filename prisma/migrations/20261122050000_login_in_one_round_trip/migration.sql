-- A login's user upsert in one round trip instead of five (BEGIN, the advisory locks, the release of a number
-- that changed hands, the upsert with its session, COMMIT) plus a sixth reading the user's identities: one call,
-- run in the implicit transaction of its statement. PL/pgSQL takes a new snapshot for each statement (READ
-- COMMITTED), so every step sees what the logins it waited for on the locks committed.
-- UserRepository.upsertVerifiedUser documents what it does.
CREATE FUNCTION "record_verified_login"(
    lock_class INT4,
    first_lock INT4,
    second_lock INT4,
    login_phone_number TEXT,
    login_provider TEXT,
    login_subject TEXT,
    login_number_only BOOLEAN,
    recycled_after_days INT4,
    new_user_id UUID,
    login_country_code TEXT,
    login_given_name TEXT,
    login_family_name TEXT,
    login_email TEXT,
    login_picture TEXT,
    login_gender TEXT,
    login_address_locality TEXT,
    login_address_postal_code TEXT,
    login_refresh_token TEXT,
    number_changed_hands_reason TEXT,
    identity_moved_reason TEXT,
    new_session_id UUID,
    session_created_at TIMESTAMPTZ,
    refresh_token_hash BYTEA,
    refresh_access_token_id UUID,
    refresh_issued_at TIMESTAMPTZ,
    refresh_expires_at TIMESTAMPTZ
) RETURNS TABLE (
    "id" UUID,
    "phone_number" TEXT,
    "phone_number_verified" BOOLEAN,
    "country_code" TEXT,
    "given_name" TEXT,
    "family_name" TEXT,
    "email" TEXT,
    "picture" TEXT,
    "gender" TEXT,
    "address_locality" TEXT,
    "address_postal_code" TEXT,
    "created_at" TIMESTAMPTZ,
    "updated_at" TIMESTAMPTZ,
    "created" BOOLEAN,
    "identities" JSONB
)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    holder_id UUID;
    changed_hands BOOLEAN;
    previous_user_id UUID;
    stored_user_id UUID;
    user_created BOOLEAN;
BEGIN
    -- Logins of one number, and of one provider account, take turns; the locks are taken in key order.
    PERFORM pg_advisory_xact_lock(lock_class, first_lock), pg_advisory_xact_lock(lock_class, second_lock);

    -- Each step is a statement of its own that touches one user's rows by key, and the steps a login does not need
    -- are not run: the plans PL/pgSQL keeps for its statements are generic, and a generic plan of one statement
    -- doing all of this read every active session (by the revoked_at index) on every login.

    -- A number that changed hands is released by its previous owner's account first: the new owner gets a user of
    -- their own. Only a login proves that someone holds the number: a session refreshed by an app on a lost phone
    -- does not.
    SELECT u.id INTO holder_id FROM users u WHERE u.phone_number = login_phone_number;
    IF holder_id IS NOT NULL THEN
        SELECT NOT (NOT login_number_only AND EXISTS (
                   SELECT 1 FROM identities i WHERE i.user_id = holder_id AND i.provider = login_provider AND i.subject = login_subject))
               AND (
                 (NOT login_number_only AND EXISTS (SELECT 1 FROM identities i WHERE i.user_id = holder_id AND i.provider = login_provider))
                 OR NOT EXISTS (SELECT 1 FROM identities i WHERE i.user_id = holder_id)
                 OR (SELECT max(i.last_login_at) FROM identities i WHERE i.user_id = holder_id) < now() - make_interval(days => recycled_after_days)
               )
        INTO changed_hands;
        IF changed_hands THEN
            -- The row stays for the id other services keep records under; the previous owner's personal data does not.
            UPDATE users u SET phone_number = NULL, phone_number_verified = false, number_released_at = now(), updated_at = now(),
                   country_code = NULL, given_name = NULL, family_name = NULL, email = NULL, picture = NULL, gender = NULL,
                   address_locality = NULL, address_postal_code = NULL
            WHERE u.id = holder_id;
            DELETE FROM identities i WHERE i.user_id = holder_id;
            UPDATE sessions s SET revoked_at = now(), revoked_reason = number_changed_hands_reason
            WHERE s.user_id = holder_id AND s.revoked_at IS NULL;
        END IF;
    END IF;

    SELECT i.user_id INTO previous_user_id FROM identities i WHERE i.provider = login_provider AND i.subject = login_subject;

    INSERT INTO users AS u (id, phone_number, phone_number_verified, country_code, given_name, family_name, email, picture,
                            gender, address_locality, address_postal_code, created_at, updated_at)
    VALUES (new_user_id, login_phone_number, true, login_country_code, login_given_name, login_family_name, login_email,
            login_picture, login_gender, login_address_locality, login_address_postal_code, now(), now())
    ON CONFLICT (phone_number) DO UPDATE SET
      phone_number_verified = true,
      -- Fields the provider did not send (scopes not granted) keep their stored values.
      country_code = COALESCE(EXCLUDED.country_code, u.country_code),
      given_name = COALESCE(EXCLUDED.given_name, u.given_name),
      family_name = COALESCE(EXCLUDED.family_name, u.family_name),
      email = COALESCE(EXCLUDED.email, u.email),
      picture = COALESCE(EXCLUDED.picture, u.picture),
      gender = COALESCE(EXCLUDED.gender, u.gender),
      address_locality = COALESCE(EXCLUDED.address_locality, u.address_locality),
      address_postal_code = COALESCE(EXCLUDED.address_postal_code, u.address_postal_code),
      updated_at = now()
    -- xmax = 0 holds only for the row this statement inserted: of concurrent first logins exactly one creates.
    RETURNING u.id, (u.xmax = 0) INTO stored_user_id, user_created;

    INSERT INTO identities AS i (provider, subject, user_id, linked_at, last_login_at, refresh_token)
    VALUES (login_provider, login_subject, stored_user_id, now(), now(), login_refresh_token)
    ON CONFLICT (provider, subject) DO UPDATE SET
      user_id = EXCLUDED.user_id,
      linked_at = CASE WHEN i.user_id = EXCLUDED.user_id THEN i.linked_at ELSE EXCLUDED.linked_at END,
      last_login_at = EXCLUDED.last_login_at,
      -- A login without offline access leaves the provider's earlier refresh token usable.
      refresh_token = COALESCE(EXCLUDED.refresh_token, i.refresh_token);

    -- The identity moved here from another account: when that account has no identity left, its sessions claim a
    -- number nobody proves any more.
    IF previous_user_id IS NOT NULL AND previous_user_id <> stored_user_id
       AND NOT EXISTS (SELECT 1 FROM identities o WHERE o.user_id = previous_user_id) THEN
        UPDATE sessions s SET revoked_at = now(), revoked_reason = identity_moved_reason
        WHERE s.user_id = previous_user_id AND s.revoked_at IS NULL;
    END IF;

    INSERT INTO sessions (id, user_id, created_at) VALUES (new_session_id, stored_user_id, session_created_at);
    INSERT INTO refresh_tokens (token_hash, session_id, access_token_id, issued_at, expires_at)
    VALUES (refresh_token_hash, new_session_id, refresh_access_token_id, refresh_issued_at, refresh_expires_at);

    RETURN QUERY
    SELECT u.id, u.phone_number, u.phone_number_verified, u.country_code, u.given_name, u.family_name, u.email, u.picture,
           u.gender, u.address_locality, u.address_postal_code, u.created_at, u.updated_at, user_created,
           (SELECT COALESCE(jsonb_agg(jsonb_build_object('provider', i.provider, 'linkedAt', i.linked_at, 'lastLoginAt', i.last_login_at)
                                      ORDER BY i.linked_at, i.provider), '[]'::jsonb)
            FROM identities i WHERE i.user_id = u.id)
    FROM users u WHERE u.id = stored_user_id;
END;
$$;
