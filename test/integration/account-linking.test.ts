import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOGIN_RESULT_FIELDS, startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { freshIndianNumber } from "../helpers/fixtures.js";

const ME = /* GraphQL */ `
  query Me {
    me { id phoneNumber givenName identities { provider linkedAt } }
  }
`;
const ACCESS_TOKEN_LOGIN = /* GraphQL */ `
  mutation AccessTokenLogin($accessToken: String!) {
    verifyTruecallerAccessToken(accessToken: $accessToken) { ${LOGIN_RESULT_FIELDS} }
  }
`;
const SIGNED_PROFILE_LOGIN = /* GraphQL */ `
  mutation SignedProfileLogin($payload: String!, $signature: String!, $signatureAlgorithm: String, $requestNonce: String!) {
    verifyTruecallerSignedProfile(payload: $payload, signature: $signature, signatureAlgorithm: $signatureAlgorithm, requestNonce: $requestNonce) {
      ${LOGIN_RESULT_FIELDS}
    }
  }
`;

interface SignedIn {
  __typename: "LoginSuccess";
  isNewUser: boolean;
  user: { id: string; phoneNumber: string; givenName: string | null; identities: Array<{ provider: string; linkedAt: string }> };
  session: { accessToken: string; refreshToken: string };
}
interface Me {
  id: string;
  phoneNumber: string;
  givenName: string | null;
  identities: Array<{ provider: string; linkedAt: string }>;
}

/** Identities as `me { identities { provider linkedAt } }` selects them. */
function links(identities: ReadonlyArray<{ provider: string; linkedAt: string }>) {
  return identities.map(({ provider, linkedAt }) => ({ provider, linkedAt }));
}


describe("account linking: one user per verified phone number", () => {
  let t: TestGateway;
  let db: pg.Client;

  beforeAll(async () => {
    t = await startTestGateway();
    db = t.db;
  });
  afterAll(async () => {
    await t?.close();
  });

  function signedIn(result: Record<string, unknown>): SignedIn {
    expect(result).toMatchObject({ __typename: "LoginSuccess" });
    return result as unknown as SignedIn;
  }

  /** Truecaller OAuth: digits without plus and the region, as its user info answers. */
  async function truecaller(digits: string, sub: string = randomUUID(), given_name?: string) {
    return t.login({ profile: { sub, phone_number: digits, phone_number_country_code: "IN", ...(given_name ? { given_name } : {}) } });
  }

  function openid(provider: "OIDC" | "WGTWO", digits: string, options: { sub?: string; verified?: boolean; given_name?: string } = {}) {
    return t.loginWith(provider, {
      profile: {
        phone_number: `+${digits}`,
        phone_number_verified: options.verified ?? true,
        ...(options.sub ? { sub: options.sub } : {}),
        ...(options.given_name ? { given_name: options.given_name } : {}),
      },
    });
  }

  async function otp(digits: string) {
    const { accessToken } = t.emulator.mintVerificationToken({ phoneNumber: digits });
    const body = await t.graphql<{ verifyTruecallerAccessToken: Record<string, unknown> }>(ACCESS_TOKEN_LOGIN, { accessToken });
    return body.data!.verifyTruecallerAccessToken;
  }

  async function signedProfile(digits: string) {
    const requestNonce = randomUUID();
    const { payload, signature, signatureAlgorithm } = t.emulator.signProfile({ requestNonce, profile: { phoneNumber: `+${digits}`, countryCode: "IN" } });
    const body = await t.graphql<{ verifyTruecallerSignedProfile: Record<string, unknown> }>(SIGNED_PROFILE_LOGIN, {
      payload,
      signature,
      signatureAlgorithm,
      requestNonce,
    });
    return body.data!.verifyTruecallerSignedProfile;
  }

  function me(accessToken: string) {
    return t.graphql<{ me: Me | null }>(ME, {}, { authorization: `Bearer ${accessToken}` });
  }

  async function meOf(session: { accessToken: string }): Promise<Me> {
    const body = await me(session.accessToken);
    expect(body.errors).toBeUndefined();
    return body.data!.me!;
  }

  async function expectSessionEnded(session: { accessToken: string }) {
    const body = await me(session.accessToken);
    expect(body.errors?.map((error) => error.extensions?.code)).toEqual(["UNAUTHENTICATED"]);
  }

  async function userRows(e164: string) {
    return (await db.query<{ id: string }>("SELECT id::text AS id FROM users WHERE phone_number = $1", [e164])).rows;
  }

  async function identityRows(userId: string) {
    return (await db.query<{ provider: string; subject: string }>("SELECT provider, subject FROM identities WHERE user_id = $1 ORDER BY linked_at, provider", [userId]))
      .rows;
  }

  it("links a wgtwo login to the user a Truecaller login created for the same number; both sessions stay valid", async () => {
    const digits = freshIndianNumber();
    const first = signedIn(await truecaller(digits));
    expect(first).toMatchObject({ isNewUser: true, user: { phoneNumber: `+${digits}`, identities: [{ provider: "TRUECALLER" }] } });

    const second = signedIn(await openid("WGTWO", digits));
    expect(second.isNewUser).toBe(false);
    expect(second.user.id).toBe(first.user.id);
    expect(second.user.identities.map((identity) => identity.provider)).toEqual(["TRUECALLER", "WGTWO"]);
    const [truecallerLink, wgtwoLink] = second.user.identities;
    expect(new Date(truecallerLink!.linkedAt).getTime()).toBeLessThanOrEqual(new Date(wgtwoLink!.linkedAt).getTime());
    // The Truecaller link kept its date: linking another provider does not relink it.
    expect(truecallerLink!.linkedAt).toBe(first.user.identities[0]!.linkedAt);

    for (const session of [first.session, second.session]) {
      expect(await meOf(session)).toEqual({
        id: first.user.id,
        phoneNumber: `+${digits}`,
        givenName: second.user.givenName,
        identities: links(second.user.identities),
      });
    }
    expect(await userRows(`+${digits}`)).toHaveLength(1);
  });

  it("links OIDC, wgtwo, Truecaller OTP, a signed profile and Truecaller OAuth on one number to one user", async () => {
    const digits = freshIndianNumber();
    const results = [
      signedIn(await openid("OIDC", digits)),
      signedIn(await openid("WGTWO", digits)),
      signedIn(await otp(digits)),
      signedIn(await signedProfile(digits)),
      signedIn(await truecaller(digits)),
    ];
    expect(results.map((result) => result.isNewUser)).toEqual([true, false, false, false, false]);
    const userId = results[0]!.user.id;
    expect(new Set(results.map((result) => result.user.id))).toEqual(new Set([userId]));

    const linked = await meOf(results[4]!.session);
    expect(linked.identities.map((identity) => identity.provider)).toEqual(["OIDC", "WGTWO", "TRUECALLER_OTP", "TRUECALLER_SIGNED_PROFILE", "TRUECALLER"]);
    for (const identity of linked.identities) expect(Number.isNaN(Date.parse(identity.linkedAt))).toBe(false);
    // No login of another provider ended an earlier session.
    for (const result of results) expect((await meOf(result.session)).id).toBe(userId);

    expect(await userRows(`+${digits}`)).toEqual([{ id: userId }]);
    const identities = await identityRows(userId);
    expect(identities.map((identity) => identity.provider)).toEqual(["oidc", "wgtwo", "truecaller_otp", "truecaller_signed_profile", "truecaller"]);
    expect(identities.filter((identity) => identity.provider.startsWith("truecaller_")).map((identity) => identity.subject)).toEqual([
      `+${digits}`,
      `+${digits}`,
    ]);
  });

  it("never links an unverified phone number to the user who has it", async () => {
    const digits = freshIndianNumber();
    const owner = signedIn(await truecaller(digits));
    const sub = `auth0|${randomUUID().replaceAll("-", "").slice(0, 24)}`;

    expect(await openid("OIDC", digits, { sub, verified: false, given_name: "Intruder" })).toMatchObject({
      __typename: "PhoneNotVerifiedError",
      code: "PHONE_NOT_VERIFIED",
    });

    expect(await userRows(`+${digits}`)).toEqual([{ id: owner.user.id }]);
    expect((await identityRows(owner.user.id)).map((identity) => identity.provider)).toEqual(["truecaller"]);
    expect((await db.query("SELECT 1 FROM identities WHERE provider = 'oidc' AND subject = $1", [sub])).rowCount).toBe(0);
    const unchanged = await meOf(owner.session);
    expect(unchanged.identities).toEqual(links(owner.user.identities));
    expect(unchanged.givenName).toBe(owner.user.givenName);
  });

  it("never creates a user for an unverified phone number", async () => {
    const digits = freshIndianNumber();
    const sub = `auth0|${randomUUID().replaceAll("-", "").slice(0, 24)}`;
    for (const provider of ["OIDC", "WGTWO"] as const) {
      expect(await openid(provider, digits, { sub, verified: false })).toMatchObject({ __typename: "PhoneNotVerifiedError" });
    }
    expect(await userRows(`+${digits}`)).toEqual([]);
    expect((await db.query("SELECT 1 FROM identities WHERE subject = $1", [sub])).rowCount).toBe(0);
  });

  it("keeps different numbers apart: different users, each with its own identity", async () => {
    const [one, two] = [freshIndianNumber(), freshIndianNumber()];
    const first = signedIn(await truecaller(one));
    const second = signedIn(await openid("WGTWO", two));
    const third = signedIn(await otp(two));
    expect(second.isNewUser).toBe(true);
    expect(second.user.id).not.toBe(first.user.id);
    expect(third.user.id).toBe(second.user.id);
    expect((await meOf(first.session)).identities.map((identity) => identity.provider)).toEqual(["TRUECALLER"]);
    expect((await meOf(second.session)).identities.map((identity) => identity.provider)).toEqual(["WGTWO", "TRUECALLER_OTP"]);
  });

  it("moves a wgtwo account that proves another number to that number's user; the first user keeps its other identities", async () => {
    const [before, after] = [freshIndianNumber(), freshIndianNumber()];
    const sub = randomUUID().replaceAll("-", "");
    const truecallerLogin = signedIn(await truecaller(before));
    const firstWgtwo = signedIn(await openid("WGTWO", before, { sub }));
    expect(firstWgtwo.user.identities.map((identity) => identity.provider)).toEqual(["TRUECALLER", "WGTWO"]);

    const moved = signedIn(await openid("WGTWO", after, { sub }));
    expect(moved).toMatchObject({ isNewUser: true, user: { phoneNumber: `+${after}`, identities: [{ provider: "WGTWO" }] } });
    expect(moved.user.id).not.toBe(firstWgtwo.user.id);
    // A new link, not the old one carried over.
    expect(new Date(moved.user.identities[0]!.linkedAt).getTime()).toBeGreaterThan(new Date(firstWgtwo.user.identities[1]!.linkedAt).getTime());

    // The first user lost WGTWO but still proves its number through Truecaller: its sessions go on.
    for (const session of [truecallerLogin.session, firstWgtwo.session]) {
      expect((await meOf(session)).identities.map((identity) => identity.provider)).toEqual(["TRUECALLER"]);
    }
    expect((await identityRows(firstWgtwo.user.id)).map((identity) => identity.provider)).toEqual(["truecaller"]);
    expect(await identityRows(moved.user.id)).toEqual([{ provider: "wgtwo", subject: sub }]);
  });

  it("ends the sessions of a user whose only identity moved to another number", async () => {
    const [before, after] = [freshIndianNumber(), freshIndianNumber()];
    const sub = randomUUID().replaceAll("-", "");
    const first = signedIn(await openid("WGTWO", before, { sub }));
    const moved = signedIn(await openid("WGTWO", after, { sub }));
    expect(moved.user.id).not.toBe(first.user.id);
    await expectSessionEnded(first.session);
    expect(await identityRows(first.user.id)).toEqual([]);
    expect((await meOf(moved.session)).identities.map((identity) => identity.provider)).toEqual(["WGTWO"]);
  });

  it("takes a provider account back into its user when it moves to another number and returns", async () => {
    const [home, travel] = [freshIndianNumber(), freshIndianNumber()];
    const sub = randomUUID();
    const owner = signedIn(await truecaller(home, randomUUID(), "Asha"));
    signedIn(await openid("WGTWO", home, { sub }));
    const abroad = signedIn(await openid("WGTWO", travel, { sub }));
    expect(abroad.user.id).not.toBe(owner.user.id);

    const back = signedIn(await openid("WGTWO", home, { sub }));
    expect(back).toMatchObject({ isNewUser: false, user: { id: owner.user.id } });
    expect((await meOf(owner.session)).identities.map((identity) => identity.provider)).toEqual(["TRUECALLER", "WGTWO"]);
  });

  it("treats another account of the same provider on the number as a new owner: every identity of the previous one is unlinked and signed out", async () => {
    const digits = freshIndianNumber();
    const previous = signedIn(await truecaller(digits, "previous-owner", "Old"));
    const other = signedIn(await openid("WGTWO", digits));
    const next = signedIn(await truecaller(digits, "next-owner", "New"));

    // A user of their own: other services' records under the previous owner's id stay the previous owner's.
    expect(next).toMatchObject({ isNewUser: true, user: { givenName: "New" } });
    expect(next.user.id).not.toBe(previous.user.id);
    await expectSessionEnded(previous.session);
    await expectSessionEnded(other.session);
    // The previous owner's wgtwo account (and any refresh token kept with it) does not come along.
    expect((await meOf(next.session)).identities.map((identity) => identity.provider)).toEqual(["TRUECALLER"]);
    expect(await identityRows(previous.user.id)).toEqual([]);
    expect(await userRows(`+${digits}`)).toEqual([{ id: next.user.id }]);
  });

  describe("a number nobody logged in with for the recycling horizon (90 days)", () => {
    /** Moves every login of the user back by `days`, as if time had passed. */
    async function ageLogins(userId: string, days: number) {
      await db.query("UPDATE identities SET last_login_at = last_login_at - make_interval(days => $2) WHERE user_id = $1", [userId, days]);
    }

    /** Moves every login and every session refresh of the user back by `days`: nobody used the number since. */
    async function ageAllUse(userId: string, days: number) {
      await ageLogins(userId, days);
      await db.query(
        `UPDATE refresh_tokens t SET issued_at = issued_at - make_interval(days => $2)
         FROM sessions s WHERE s.id = t.session_id AND s.user_id = $1`,
        [userId, days],
      );
    }

    it("is a new owner's even through a number-only proof: the previous profile, identities and sessions are gone", async () => {
      const digits = freshIndianNumber();
      const previous = signedIn(await truecaller(digits, randomUUID(), "Old"));
      await ageAllUse(previous.user.id, 91);

      const next = signedIn(await otp(digits));
      expect(next).toMatchObject({ isNewUser: true, user: { givenName: null, email: null } });
      expect(next.user.id).not.toBe(previous.user.id);
      await expectSessionEnded(previous.session);
      expect(await identityRows(previous.user.id)).toEqual([]);
      expect(await identityRows(next.user.id)).toEqual([{ provider: "truecaller_otp", subject: `+${digits}` }]);
    });

    it("is a new owner's through another provider's account too", async () => {
      const digits = freshIndianNumber();
      const previous = signedIn(await truecaller(digits, randomUUID(), "Old"));
      await ageAllUse(previous.user.id, 91);

      const next = signedIn(await openid("OIDC", digits, { given_name: "New" }));
      expect(next).toMatchObject({ isNewUser: true, user: { givenName: "New" } });
      expect(next.user.id).not.toBe(previous.user.id);
      await expectSessionEnded(previous.session);
      expect((await meOf(next.session)).identities.map((identity) => identity.provider)).toEqual(["OIDC"]);
    });

    it("goes to its new holder even while the previous owner's app keeps refreshing its session", async () => {
      const digits = freshIndianNumber();
      const previous = signedIn(await truecaller(digits, randomUUID(), "Old"));
      await ageAllUse(previous.user.id, 200);
      // The lost phone's app still refreshes: that proves the app has a token, not that anyone holds the number.
      const refreshed = await t.graphql<{ refreshSession: { __typename: string } }>(
        "mutation ($token: String!) { refreshSession(refreshToken: $token) { __typename } }",
        { token: previous.session.refreshToken },
      );
      expect(refreshed.data?.refreshSession.__typename).toBe("SessionRefreshed");

      const next = signedIn(await otp(digits));
      expect(next).toMatchObject({ isNewUser: true, user: { givenName: null } });
      expect(next.user.id).not.toBe(previous.user.id);
    });

    it("stays with its owner while any of its identities logged in within the horizon", async () => {
      const digits = freshIndianNumber();
      const owner = signedIn(await truecaller(digits, randomUUID(), "Asha"));
      await ageAllUse(owner.user.id, 89);

      const again = signedIn(await otp(digits));
      expect(again.user).toMatchObject({ id: owner.user.id, givenName: "Asha" });
      expect((await meOf(owner.session)).identities.map((identity) => identity.provider)).toEqual(["TRUECALLER", "TRUECALLER_OTP"]);
    });

    it("stays with the same provider account however long it was away", async () => {
      const digits = freshIndianNumber();
      const sub = randomUUID();
      const owner = signedIn(await truecaller(digits, sub, "Asha"));
      await ageAllUse(owner.user.id, 400);

      const back = signedIn(await truecaller(digits, sub));
      expect(back.user).toMatchObject({ id: owner.user.id });
      // Not treated as a new owner: the first session lives on.
      expect((await meOf(owner.session)).id).toBe(owner.user.id);
    });
  });
});
