import { generateKeyPairSync, randomUUID, sign as signWithKey } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import type { SignProfileOptions, SignedProfile } from "../../src/emulator/truecaller-emulator.js";
import { startGateway } from "../../src/gateway.js";
import { createTestDatabase } from "../helpers/database.js";
import { captureLogs } from "../helpers/log-capture.js";
import { LOGIN_RESULT_FIELDS, postGraphql, startTestGateway, type TestGateway } from "../helpers/test-gateway.js";
import { freshIndianNumber } from "../helpers/fixtures.js";

const OTHER_CLIENT = "other-client";

const ACCESS_TOKEN_LOGIN = /* GraphQL */ `
  mutation AccessTokenLogin($accessToken: String!, $firstName: String, $lastName: String) {
    verifyTruecallerAccessToken(accessToken: $accessToken, firstName: $firstName, lastName: $lastName) { ${LOGIN_RESULT_FIELDS} }
  }
`;
const SIGNED_PROFILE_LOGIN = /* GraphQL */ `
  mutation SignedProfileLogin($payload: String!, $signature: String!, $signatureAlgorithm: String, $requestNonce: String!) {
    verifyTruecallerSignedProfile(payload: $payload, signature: $signature, signatureAlgorithm: $signatureAlgorithm, requestNonce: $requestNonce) {
      ${LOGIN_RESULT_FIELDS}
    }
  }
`;

type LoginResult = Record<string, unknown>;


async function accessTokenLogin(baseUrl: string, variables: { accessToken: string; firstName?: string; lastName?: string }): Promise<LoginResult> {
  const body = await postGraphql<{ verifyTruecallerAccessToken: LoginResult }>(baseUrl, ACCESS_TOKEN_LOGIN, variables);
  if (!body.data) throw new Error(`verifyTruecallerAccessToken failed: ${JSON.stringify(body.errors)}`);
  return body.data.verifyTruecallerAccessToken;
}

async function signedProfileLogin(
  baseUrl: string,
  input: { payload: string; signature: string; signatureAlgorithm?: string | null; requestNonce: string },
): Promise<LoginResult> {
  const body = await postGraphql<{ verifyTruecallerSignedProfile: LoginResult }>(baseUrl, SIGNED_PROFILE_LOGIN, input);
  if (!body.data) throw new Error(`verifyTruecallerSignedProfile failed: ${JSON.stringify(body.errors)}`);
  return body.data.verifyTruecallerSignedProfile;
}

describe("Truecaller without the app: access tokens and signed profiles", () => {
  let t: TestGateway;
  let db: pg.Client;
  /** How far the emulator's clock runs ahead, to expire access tokens without waiting. */
  let emulatorClockSkewMs = 0;
  /** Log lines of the extra instances started by {@link withInstance}. */
  const instanceLogs: string[] = [];
  /** Every access token, payload and signature sent to a gateway: none may reach a log. */
  const secrets = new Set<string>();

  beforeAll(async () => {
    t = await startTestGateway({
      emulator: { now: () => Date.now() + emulatorClockSkewMs, clients: { [OTHER_CLIENT]: { authorizationCodeGrant: true } } },
    });
    db = t.db;
  });
  afterAll(async () => {
    await t?.close();
  });
  beforeEach(() => {
    t.emulator.reset();
    emulatorClockSkewMs = 0;
  });

  /** Another gateway on the same database, Redis key space and emulator, with `env` changed; fresh key cache. */
  async function withInstance(env: Record<string, string>, use: (baseUrl: string) => Promise<void>): Promise<void> {
    const logs = captureLogs();
    const gateway = await startGateway(loadConfig({ ...t.env, ...env }), { logger: logs.logger });
    try {
      await use(gateway.url);
    } finally {
      await gateway.close();
      instanceLogs.push(...logs.lines);
    }
  }

  function mintToken(options: Parameters<TestGateway["emulator"]["mintVerificationToken"]>[0] = {}) {
    const minted = t.emulator.mintVerificationToken({ phoneNumber: freshIndianNumber(), ...options });
    secrets.add(minted.accessToken);
    return minted;
  }

  function loginWithToken(variables: { accessToken: string; firstName?: string; lastName?: string }, baseUrl = t.gateway.url) {
    secrets.add(variables.accessToken);
    return accessTokenLogin(baseUrl, variables);
  }

  /** A profile signed by the emulator for a fresh number and nonce (overridable). */
  function signProfile(options: Partial<SignProfileOptions> = {}): SignedProfile & { requestNonce: string } {
    const requestNonce = options.requestNonce ?? randomUUID();
    const signed = t.emulator.signProfile({
      ...options,
      requestNonce,
      profile: { phoneNumber: `+${freshIndianNumber()}`, countryCode: "IN", ...options.profile },
    });
    secrets.add(signed.payload);
    secrets.add(signed.signature);
    return { ...signed, requestNonce };
  }

  function loginWithProfile(
    profile: { payload: string; signature: string; signatureAlgorithm?: string | null; requestNonce: string },
    baseUrl = t.gateway.url,
  ) {
    secrets.add(profile.payload);
    secrets.add(profile.signature);
    const { payload, signature, signatureAlgorithm, requestNonce } = profile;
    return signedProfileLogin(baseUrl, { payload, signature, signatureAlgorithm: signatureAlgorithm ?? null, requestNonce });
  }

  const nowSeconds = () => Math.floor(Date.now() / 1000);

  async function usersWithPhone(e164: string): Promise<number> {
    const { rows } = await db.query<{ count: string }>("SELECT count(*) FROM users WHERE phone_number = $1", [e164]);
    return Number(rows[0]?.count);
  }

  describe("verifyTruecallerAccessToken", () => {
    it.each([
      ["an unquoted JSON number (as the real server sends it)", false],
      ["a quoted number", true],
    ])("logs in with the number phoneNumberDetail answers as %s", async (_name, numberAsString) => {
      const minted = mintToken({ numberAsString });
      const result = await loginWithToken({ accessToken: minted.accessToken, firstName: " Ravi ", lastName: "Kumar" });
      expect(result).toMatchObject({
        __typename: "LoginSuccess",
        isNewUser: true,
        user: {
          phoneNumber: `+${minted.phoneNumber}`,
          phoneNumberVerified: true,
          countryCode: "IN",
          givenName: "Ravi",
          familyName: "Kumar",
          email: null,
          gender: null,
          address: null,
          identities: [{ provider: "TRUECALLER_OTP" }],
        },
      });
      // The emulator answers only a request carrying a registered clientId header.
      expect(t.emulator.requests).toEqual([expect.objectContaining({ endpoint: "phoneNumberDetail", method: "GET", status: 200 })]);
      const { rows } = await db.query("SELECT provider, subject FROM identities WHERE user_id = $1", [(result.user as { id: string }).id]);
      expect(rows).toEqual([{ provider: "truecaller_otp", subject: `+${minted.phoneNumber}` }]);
    });

    it("recognises the number on the next verification, keeping names it is not sent", async () => {
      const phoneNumber = freshIndianNumber();
      const first = await loginWithToken({ accessToken: mintToken({ phoneNumber }).accessToken, firstName: "Meera", lastName: "Iyer" });
      const again = await loginWithToken({ accessToken: mintToken({ phoneNumber }).accessToken });
      expect(again).toMatchObject({
        __typename: "LoginSuccess",
        isNewUser: false,
        user: { id: (first.user as { id: string }).id, givenName: "Meera", familyName: "Iyer", identities: [{ provider: "TRUECALLER_OTP" }] },
      });
      expect(await usersWithPhone(`+${phoneNumber}`)).toBe(1);
    });

    it("answers INVALID_CODE for an unknown token, an expired one and one granted to another client", async () => {
      expect(await loginWithToken({ accessToken: randomUUID() })).toMatchObject({ __typename: "InvalidCodeError", code: "INVALID_CODE" });

      const expiring = mintToken({ ttlSeconds: 60 });
      emulatorClockSkewMs = 61_000;
      expect(await loginWithToken({ accessToken: expiring.accessToken })).toMatchObject({ code: "INVALID_CODE" });
      emulatorClockSkewMs = 0;

      const foreign = mintToken({ clientId: OTHER_CLIENT });
      expect(await loginWithToken({ accessToken: foreign.accessToken })).toMatchObject({ code: "INVALID_CODE" });
      expect(await usersWithPhone(`+${expiring.phoneNumber}`)).toBe(0);
      expect(await usersWithPhone(`+${foreign.phoneNumber}`)).toBe(0);
      expect(t.emulator.requests.map((request) => request.code)).toEqual([1404, 1404, 1404]);
    });

    it("answers PROVIDER_UNAVAILABLE when phoneNumberDetail fails with 500, and nothing is stored", async () => {
      const minted = mintToken();
      t.emulator.injectFault({ endpoint: "phoneNumberDetail", error: "server_error" });
      expect(await loginWithToken({ accessToken: minted.accessToken })).toMatchObject({
        __typename: "ProviderUnavailableError",
        code: "PROVIDER_UNAVAILABLE",
      });
      expect(await usersWithPhone(`+${minted.phoneNumber}`)).toBe(0);
      // The token is only read, not consumed: the app may retry once the outage is over.
      expect(await loginWithToken({ accessToken: minted.accessToken })).toMatchObject({ __typename: "LoginSuccess" });
    });

    it("answers PROVIDER_MISCONFIGURED when Truecaller does not know TRUECALLER_CLIENT_ID (invalid partner credentials)", async () => {
      const minted = mintToken();
      await withInstance({ TRUECALLER_CLIENT_ID: "unregistered-client" }, async (baseUrl) => {
        expect(await loginWithToken({ accessToken: minted.accessToken }, baseUrl)).toMatchObject({
          __typename: "ProviderMisconfiguredError",
          code: "PROVIDER_MISCONFIGURED",
        });
      });
      expect(t.emulator.requests).toEqual([expect.objectContaining({ endpoint: "phoneNumberDetail", status: 404, code: 404 })]);
      expect(await usersWithPhone(`+${minted.phoneNumber}`)).toBe(0);
    });

    it.each([
      ["an empty token", { accessToken: "" }, "accessToken"],
      ["a blank token", { accessToken: "   " }, "accessToken"],
      ["a token with a space", { accessToken: "abc def" }, "accessToken"],
      ["a token with a query", { accessToken: "abc?clientId=x" }, "accessToken"],
      ["a token with a fragment", { accessToken: "abc#x" }, "accessToken"],
      ["a percent-encoded dot segment", { accessToken: "%2e%2e" }, "accessToken"],
      ["a backslash path", { accessToken: "..\\..\\v1\\key" }, "accessToken"],
      ["a dot-dot token (a path segment that climbs out of phoneNumberDetail)", { accessToken: ".." }, "accessToken"],
      ["a dot token (a path segment that names phoneNumberDetail itself)", { accessToken: "." }, "accessToken"],
      ["a token over 2048 characters", { accessToken: "a".repeat(2049) }, "accessToken"],
      ["an over-long first name", { accessToken: randomUUID(), firstName: "A".repeat(101) }, "firstName"],
      ["an over-long last name", { accessToken: randomUUID(), lastName: "B".repeat(101) }, "lastName"],
      ["a first name with a control character", { accessToken: randomUUID(), firstName: "Ra\u0007vi" }, "firstName"],
      ["a last name with a line break inside", { accessToken: randomUUID(), lastName: "Ku\nmar" }, "lastName"],
      ["a last name with a zero-width format character", { accessToken: randomUUID(), lastName: "Ku\u200Bmar" }, "lastName"],
    ])("answers INVALID_INPUT for %s without calling Truecaller", async (_name, variables, field) => {
      const result = await loginWithToken(variables);
      expect(result).toMatchObject({ __typename: "InvalidInputError", code: "INVALID_INPUT", field });
      for (const value of Object.values(variables)) if (value.trim().length >= 5) expect(result.message).not.toContain(value);
      expect(t.emulator.requestCount("phoneNumberDetail")).toBe(0);
    });
  });

  describe("verifyTruecallerSignedProfile", () => {
    it("logs in with a valid profile: names, gender, email and address from the payload", async () => {
      const signed = signProfile({
        profile: { firstName: "Anil", lastName: "Verma", gender: "M", email: "anil@example.com", city: "Pune", zipcode: "411001" },
      });
      const result = await loginWithProfile(signed);
      expect(result).toMatchObject({
        __typename: "LoginSuccess",
        isNewUser: true,
        user: {
          phoneNumber: signed.profile.phoneNumber,
          phoneNumberVerified: true,
          countryCode: "IN",
          givenName: "Anil",
          familyName: "Verma",
          gender: "male",
          email: "anil@example.com",
          address: { locality: "Pune", postalCode: "411001" },
          identities: [{ provider: "TRUECALLER_SIGNED_PROFILE" }],
        },
      });
      const { rows } = await db.query("SELECT provider, subject FROM identities WHERE user_id = $1", [(result.user as { id: string }).id]);
      expect(rows).toEqual([{ provider: "truecaller_signed_profile", subject: signed.profile.phoneNumber }]);
    });

    it.each([
      ["F", "female"],
      ["N", null],
    ])("stores gender %s as %s", async (code, gender) => {
      const result = await loginWithProfile(signProfile({ profile: { gender: code } }));
      expect(result).toMatchObject({ __typename: "LoginSuccess", user: { gender } });
    });

    it("accepts a payload once: the same payload again is REPLAYED", async () => {
      const signed = signProfile();
      expect(await loginWithProfile(signed)).toMatchObject({ __typename: "LoginSuccess" });
      expect(await loginWithProfile(signed)).toMatchObject({
        __typename: "InvalidSignedProfileError",
        code: "INVALID_SIGNED_PROFILE",
        reason: "REPLAYED",
      });
      expect(await usersWithPhone(signed.profile.phoneNumber!)).toBe(1);
    });

    it("accepts a payload once across two instances sharing the database and Redis", async () => {
      const signed = signProfile();
      expect(await loginWithProfile(signed)).toMatchObject({ __typename: "LoginSuccess" });
      await withInstance({}, async (baseUrl) => {
        expect(await loginWithProfile(signed, baseUrl)).toMatchObject({ __typename: "InvalidSignedProfileError", reason: "REPLAYED" });
        // And the other way round.
        const second = signProfile();
        expect(await loginWithProfile(second, baseUrl)).toMatchObject({ __typename: "LoginSuccess" });
        expect(await loginWithProfile(second)).toMatchObject({ __typename: "InvalidSignedProfileError", reason: "REPLAYED" });
        // Sent to both at once, it logs in exactly once.
        const third = signProfile();
        const raced = await Promise.all([loginWithProfile(third), loginWithProfile(third, baseUrl)]);
        expect(raced.map((result) => result.__typename).sort()).toEqual(["InvalidSignedProfileError", "LoginSuccess"]);
        expect(await usersWithPhone(third.profile.phoneNumber!)).toBe(1);
      });
    });

    it("answers NONCE_MISMATCH for another nonce, without using the payload up", async () => {
      const signed = signProfile();
      expect(await loginWithProfile({ ...signed, requestNonce: randomUUID() })).toMatchObject({
        __typename: "InvalidSignedProfileError",
        reason: "NONCE_MISMATCH",
      });
      expect(await usersWithPhone(signed.profile.phoneNumber!)).toBe(0);
      expect(await loginWithProfile(signed)).toMatchObject({ __typename: "LoginSuccess" });
    });

    it("answers BAD_SIGNATURE for a signature that does not match, without using the payload up", async () => {
      const signed = signProfile();
      const other = signProfile();
      expect(await loginWithProfile({ ...signed, signature: other.signature })).toMatchObject({ reason: "BAD_SIGNATURE" });
      expect(await loginWithProfile(signed)).toMatchObject({ __typename: "LoginSuccess" });
    });

    it.each([
      ["older than TRUECALLER_PAYLOAD_MAX_AGE_S (600 s)", -601],
      ["two minutes in the future", 120],
    ])("answers EXPIRED for a payload signed %s", async (_name, offsetSeconds) => {
      const signed = signProfile({ requestTime: nowSeconds() + offsetSeconds });
      expect(await loginWithProfile(signed)).toMatchObject({ __typename: "InvalidSignedProfileError", reason: "EXPIRED" });
      expect(await usersWithPhone(signed.profile.phoneNumber!)).toBe(0);
    });

    it("accepts a payload signed up to a minute in the future (clock skew) or nearly ten minutes ago", async () => {
      expect(await loginWithProfile(signProfile({ requestTime: nowSeconds() + 30 }))).toMatchObject({ __typename: "LoginSuccess" });
      expect(await loginWithProfile(signProfile({ requestTime: nowSeconds() - 580 }))).toMatchObject({ __typename: "LoginSuccess" });
    });

    it("answers BAD_SIGNATURE for a profile signed by a key Truecaller never published", async () => {
      const signed = signProfile({ signWith: "foreign" });
      expect(await loginWithProfile(signed)).toMatchObject({ __typename: "InvalidSignedProfileError", reason: "BAD_SIGNATURE" });
      expect(await usersWithPhone(signed.profile.phoneNumber!)).toBe(0);
    });

    it("answers BAD_SIGNATURE when the label says SHA512withRSA but SHA-256 signed", async () => {
      const signed = signProfile({ signatureAlgorithm: "SHA512withRSA", hashAlgorithm: "sha256" });
      expect(await loginWithProfile(signed)).toMatchObject({ reason: "BAD_SIGNATURE" });
    });

    it("accepts SHA256withRSA when SHA-256 signed, and a missing label as SHA512withRSA", async () => {
      expect(await loginWithProfile(signProfile({ signatureAlgorithm: "SHA256withRSA", hashAlgorithm: "sha256" }))).toMatchObject({
        __typename: "LoginSuccess",
      });
      expect(await loginWithProfile({ ...signProfile(), signatureAlgorithm: null })).toMatchObject({ __typename: "LoginSuccess" });
    });

    it.each(["MD5withRSA", "none", "sha512", "SHA1withRSA"])("answers UNSUPPORTED_ALGORITHM for %s without reading keys", async (signatureAlgorithm) => {
      await withInstance({}, async (baseUrl) => {
        const signed = signProfile({ signatureAlgorithm });
        expect(await loginWithProfile(signed, baseUrl)).toMatchObject({
          __typename: "InvalidSignedProfileError",
          reason: "UNSUPPORTED_ALGORITHM",
        });
      });
      expect(t.emulator.requestCount("keys")).toBe(0);
    });

    it("answers MALFORMED for a payload or signature that is not base64, and INVALID_INPUT for empty ones", async () => {
      const signed = signProfile();
      expect(await loginWithProfile({ ...signed, payload: "not base64!" })).toMatchObject({ reason: "MALFORMED" });
      expect(await loginWithProfile({ ...signed, signature: "not base64!" })).toMatchObject({ reason: "MALFORMED" });
      expect(await loginWithProfile({ ...signed, payload: "" })).toMatchObject({ __typename: "InvalidInputError", field: "payload" });
      expect(await loginWithProfile({ ...signed, signature: " " })).toMatchObject({ __typename: "InvalidInputError", field: "signature" });
      expect(await loginWithProfile({ ...signed, requestNonce: "" })).toMatchObject({ __typename: "InvalidInputError", field: "requestNonce" });
      expect(await loginWithProfile({ ...signed, signatureAlgorithm: "" })).toMatchObject({
        __typename: "InvalidInputError",
        field: "signatureAlgorithm",
      });
      // Nothing above used the payload up.
      expect(await loginWithProfile(signed)).toMatchObject({ __typename: "LoginSuccess" });
    });

    it("answers MALFORMED for correctly signed payloads that are not a Truecaller profile", async () => {
      // Truecaller's published key list is replaced with one whose private key the test holds.
      const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
      const published = publicKey.export({ format: "der", type: "spki" }).toString("base64");
      const signOwn = (text: string) => {
        const payload = Buffer.from(text, "utf8").toString("base64");
        const signature = signWithKey("sha512", Buffer.from(payload, "utf8"), privateKey).toString("base64");
        return { payload, signature, signatureAlgorithm: "SHA512withRSA", requestNonce: "nonce-1" };
      };
      t.emulator.injectFault({ endpoint: "keys", status: 200, body: [{ keyType: "RSA", key: published }] });
      await withInstance({}, async (baseUrl) => {
        const profile = { requestNonce: "nonce-1", requestTime: nowSeconds(), phoneNumber: `+${freshIndianNumber()}`, countryCode: "IN" };
        expect(await loginWithProfile(signOwn("this is not JSON"), baseUrl)).toMatchObject({ reason: "MALFORMED" });
        expect(await loginWithProfile(signOwn("[1, 2]"), baseUrl)).toMatchObject({ reason: "MALFORMED" });
        expect(await loginWithProfile(signOwn(JSON.stringify({ ...profile, phoneNumber: undefined })), baseUrl)).toMatchObject({ reason: "MALFORMED" });
        expect(await loginWithProfile(signOwn(JSON.stringify({ ...profile, phoneNumber: "12" })), baseUrl)).toMatchObject({ reason: "MALFORMED" });
        expect(await loginWithProfile(signOwn(JSON.stringify({ ...profile, requestTime: "now" })), baseUrl)).toMatchObject({ reason: "MALFORMED" });
        // The same key list accepts a well-formed profile: the rejections above are about the payloads.
        expect(await loginWithProfile(signOwn(JSON.stringify(profile)), baseUrl)).toMatchObject({ __typename: "LoginSuccess" });
      });
      expect(t.emulator.requestCount("keys")).toBe(1);
    });

    it("answers PROVIDER_UNAVAILABLE when the key list cannot be read on first use, without letting clients make it ask again", async () => {
      const signed = signProfile();
      t.emulator.injectFault({ endpoint: "keys", error: "server_error" });
      await withInstance({}, async (baseUrl) => {
        expect(await loginWithProfile(signed, baseUrl)).toMatchObject({ __typename: "ProviderUnavailableError", code: "PROVIDER_UNAVAILABLE" });
        expect(await usersWithPhone(signed.profile.phoneNumber!)).toBe(0);
        // Anyone can submit profiles: while the failure is remembered (60 s) they do not reach Truecaller.
        expect(await loginWithProfile(signed, baseUrl)).toMatchObject({ code: "PROVIDER_UNAVAILABLE" });
        expect(t.emulator.requestCount("keys")).toBe(1);
      });
      // The failed attempts did not use the payload up: an instance that can read the keys accepts it.
      await withInstance({}, async (baseUrl) => {
        expect(await loginWithProfile(signed, baseUrl)).toMatchObject({ __typename: "LoginSuccess" });
      });
      expect(t.emulator.requestCount("keys")).toBe(2);
    });

    it("respects TRUECALLER_PAYLOAD_MAX_AGE_S: with 60, a payload signed two minutes ago is EXPIRED", async () => {
      const signed = signProfile({ requestTime: nowSeconds() - 120 });
      await withInstance({ TRUECALLER_PAYLOAD_MAX_AGE_S: "60" }, async (baseUrl) => {
        expect(await loginWithProfile(signed, baseUrl)).toMatchObject({ __typename: "InvalidSignedProfileError", reason: "EXPIRED" });
      });
      // The default (600 s) accepts it.
      expect(await loginWithProfile(signed)).toMatchObject({ __typename: "LoginSuccess" });
    });
  });

  describe("Truecaller not configured (TRUECALLER_CLIENT_ID empty)", () => {
    it("answers PROVIDER_MISCONFIGURED for both app-less mutations without calling Truecaller", async () => {
      await withInstance({ TRUECALLER_CLIENT_ID: "", TRUECALLER_SIGNED_PROFILES: "" }, async (baseUrl) => {
        expect(await loginWithToken({ accessToken: mintToken().accessToken }, baseUrl)).toMatchObject({
          __typename: "ProviderMisconfiguredError",
          code: "PROVIDER_MISCONFIGURED",
        });
        expect(await loginWithProfile(signProfile(), baseUrl)).toMatchObject({
          __typename: "ProviderMisconfiguredError",
          code: "PROVIDER_MISCONFIGURED",
        });
      });
      expect(t.emulator.requests).toEqual([]);
    });
  });

  describe("signed profiles not enabled (TRUECALLER_SIGNED_PROFILES unset)", () => {
    it("answers PROVIDER_MISCONFIGURED for verifyTruecallerSignedProfile without reading keys, while access tokens still log in", async () => {
      const minted = mintToken();
      await withInstance({ TRUECALLER_SIGNED_PROFILES: "" }, async (baseUrl) => {
        const signed = signProfile();
        expect(await loginWithProfile(signed, baseUrl)).toMatchObject({ __typename: "ProviderMisconfiguredError", code: "PROVIDER_MISCONFIGURED" });
        expect(await loginWithToken({ accessToken: minted.accessToken }, baseUrl)).toMatchObject({
          __typename: "LoginSuccess",
          user: { phoneNumber: `+${minted.phoneNumber}`, identities: [{ provider: "TRUECALLER_OTP" }] },
        });
        expect(await usersWithPhone(signed.profile.phoneNumber!)).toBe(0);
      });
      expect(t.emulator.requestCount("keys")).toBe(0);
      expect(t.emulator.requests).toEqual([expect.objectContaining({ endpoint: "phoneNumberDetail", status: 200 })]);
    });
  });

  it("writes no access token, payload or signature to any log line", async () => {
    // Every outcome is produced here, so the test holds when run alone (-t); in a full run the secrets of the tests above are checked too.
    const ownSecrets = new Set<string>();
    const remember = <T extends { accessToken?: string; payload?: string; signature?: string }>(sent: T): T => {
      for (const value of [sent.accessToken, sent.payload, sent.signature]) if (value !== undefined) ownSecrets.add(value);
      return sent;
    };
    const firstLine = t.logs.length;
    const firstInstanceLine = instanceLogs.length;

    expect(await loginWithToken(remember({ accessToken: mintToken().accessToken }))).toMatchObject({ __typename: "LoginSuccess" });
    expect(await loginWithToken(remember({ accessToken: randomUUID() }))).toMatchObject({ code: "INVALID_CODE" });
    expect(await loginWithToken({ accessToken: "has space" })).toMatchObject({ code: "INVALID_INPUT" });
    const duringOutage = remember(mintToken());
    t.emulator.injectFault({ endpoint: "phoneNumberDetail", error: "server_error" });
    expect(await loginWithToken({ accessToken: duringOutage.accessToken })).toMatchObject({ code: "PROVIDER_UNAVAILABLE" });
    await withInstance({ TRUECALLER_CLIENT_ID: "unregistered-client" }, async (baseUrl) => {
      expect(await loginWithToken(remember({ accessToken: mintToken().accessToken }), baseUrl)).toMatchObject({ code: "PROVIDER_MISCONFIGURED" });
    });

    const signed = remember(signProfile());
    expect(await loginWithProfile(signed)).toMatchObject({ __typename: "LoginSuccess" });
    expect(await loginWithProfile(signed)).toMatchObject({ reason: "REPLAYED" });
    expect(await loginWithProfile(remember(signProfile({ signWith: "foreign" })))).toMatchObject({ reason: "BAD_SIGNATURE" });
    expect(await loginWithProfile({ ...remember(signProfile()), requestNonce: "wrong" })).toMatchObject({ reason: "NONCE_MISMATCH" });
    expect(await loginWithProfile(remember(signProfile({ signatureAlgorithm: "MD5withRSA" })))).toMatchObject({ reason: "UNSUPPORTED_ALGORITHM" });
    expect(await loginWithProfile(remember(signProfile({ requestTime: nowSeconds() - 601 })))).toMatchObject({ reason: "EXPIRED" });
    const unreadableKeys = remember(signProfile());
    t.emulator.injectFault({ endpoint: "keys", error: "server_error" });
    await withInstance({}, async (baseUrl) => {
      expect(await loginWithProfile(unreadableKeys, baseUrl)).toMatchObject({ code: "PROVIDER_UNAVAILABLE" });
    });

    const lines = [...t.logs, ...instanceLogs];
    const ownLines = [...t.logs.slice(firstLine), ...instanceLogs.slice(firstInstanceLine)];
    expect(ownLines.some((line) => line.includes("login refused"))).toBe(true);
    expect(ownLines.some((line) => line.includes("login succeeded"))).toBe(true);
    // 4 access tokens, and a payload and signature for each of 6 profiles.
    expect(ownSecrets.size).toBe(16);
    for (const secret of new Set([...ownSecrets, ...secrets])) {
      if (secret.trim().length < 8) continue;
      expect(lines.filter((line) => line.includes(secret))).toEqual([]);
    }
  });
});

describe("Truecaller key rotation for signed profiles", () => {
  let t: TestGateway;

  beforeAll(async () => {
    t = await startTestGateway();
  });
  afterAll(async () => {
    await t?.close();
  });

  function sign(signWith: "current" | "retired" | "foreign") {
    const requestNonce = randomUUID();
    const signed = t.emulator.signProfile({ requestNonce, signWith, profile: { phoneNumber: `+${freshIndianNumber()}`, countryCode: "IN" } });
    return signedProfileLogin(t.gateway.url, { ...signed, requestNonce });
  }

  it("re-reads the keys once for a profile signed with a new key, and not again for a retired key within a minute", async () => {
    expect(await sign("current")).toMatchObject({ __typename: "LoginSuccess" });
    expect(t.emulator.requestCount("keys")).toBe(1);
    // Cached keys serve the next login.
    expect(await sign("current")).toMatchObject({ __typename: "LoginSuccess" });
    expect(t.emulator.requestCount("keys")).toBe(1);

    t.emulator.rotateKeys();
    expect(await sign("current")).toMatchObject({ __typename: "LoginSuccess" });
    expect(t.emulator.requestCount("keys")).toBe(2);

    // The retired key is no longer published: rejected, and the key endpoint is not hammered.
    expect(await sign("retired")).toMatchObject({ __typename: "InvalidSignedProfileError", reason: "BAD_SIGNATURE" });
    expect(await sign("foreign")).toMatchObject({ __typename: "InvalidSignedProfileError", reason: "BAD_SIGNATURE" });
    expect(t.emulator.requestCount("keys")).toBe(2);
    expect(await sign("current")).toMatchObject({ __typename: "LoginSuccess" });
    expect(t.emulator.requestCount("keys")).toBe(2);
  });
});

describe("signed profiles when storing the login fails", () => {
  let t: TestGateway;

  beforeAll(async () => {
    t = await startTestGateway();
  });
  afterAll(async () => {
    await t?.close();
  });

  it("gives the payload back, so the app can send it again once the database is back", async () => {
    const requestNonce = randomUUID();
    const signed = t.emulator.signProfile({ requestNonce, profile: { phoneNumber: `+${freshIndianNumber()}`, countryCode: "IN" } });
    const input = { payload: signed.payload, signature: signed.signature, signatureAlgorithm: signed.signatureAlgorithm, requestNonce };

    await t.refuseDatabaseConnections();
    const failed = await postGraphql<{ verifyTruecallerSignedProfile: Record<string, unknown> }>(t.gateway.url, SIGNED_PROFILE_LOGIN, input);
    expect(failed.data?.verifyTruecallerSignedProfile).toMatchObject({ code: "SERVICE_UNAVAILABLE" });

    // Another instance on a working database and the same Redis key space accepts the same payload.
    const database = await createTestDatabase();
    const gateway = await startGateway(loadConfig({ ...t.env, DATABASE_URL: database.url }), { logger: captureLogs().logger });
    try {
      expect(await signedProfileLogin(gateway.url, input)).toMatchObject({ __typename: "LoginSuccess", user: { phoneNumber: signed.profile.phoneNumber } });
      expect(await signedProfileLogin(gateway.url, input)).toMatchObject({ __typename: "InvalidSignedProfileError", reason: "REPLAYED" });
    } finally {
      await gateway.close();
      await database.drop();
    }
    expect(t.logs.some((line) => line.includes("database unavailable during login"))).toBe(true);
    expect(t.logs.filter((line) => line.includes(input.payload) || line.includes(input.signature))).toEqual([]);
  });
});
