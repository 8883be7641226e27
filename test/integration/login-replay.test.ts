/**
 * Idempotent, bound logins over real HTTP (issue 5, "Idempotent, bound logins"): a retried code login
 * gets the same user without a second provider call, concurrent duplicates on one or two instances make
 * exactly one, and a code presented with anything else is refused; startLogin's state and nonce are
 * used once, for their provider, within LOGIN_STATE_TTL_S. The emulators count provider requests; Redis
 * is read directly to see what is kept there. Requests are held with emulator faults, never with sleeps.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { startGateway, type Gateway } from "../../src/gateway.js";
import { KeyedHash } from "../../src/store/keyed-hash.js";
import { LoginChallenges } from "../../src/store/login-challenges.js";
import { parseKeyring } from "../../src/store/token-cipher.js";
import { createMemoryCache } from "../../src/store/ttl-cache.js";
import { captureLogs } from "../helpers/log-capture.js";
import { createTestDatabase } from "../helpers/database.js";
import {
  LOGIN_RESULT_FIELDS,
  postGraphql,
  START_LOGIN_MUTATION,
  startTestGateway,
  VERIFY_MUTATION,
  VERIFY_PHONE_LOGIN_MUTATION,
  type TestGateway,
} from "../helpers/test-gateway.js";
import { freshIndianNumber, otherVerifier, succeeded as asLoginSuccess } from "../helpers/fixtures.js";

/** Both lifetimes at their minimum, so the TTL assertions tell them from the 600 s defaults. */
const REPLAY_TTL_S = 30;
const STATE_TTL_S = 30;
/** How long the emulator holds a provider request, so that duplicates sent together overlap it. */
const HOLD_MS = 400;
/** `<keyId>.<iv>.<ciphertext>.<tag>` sealed with the test keyring's key "test". */
const SEALED_SHAPE = /^test\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/;
/** A self-validating state or nonce (version, expiry, login id, MAC: 39 bytes) in base64url. */
const CHALLENGE_SHAPE = /^[A-Za-z0-9_-]{52}$/;

const SIGNED_PROFILE_LOGIN = /* GraphQL */ `
  mutation SignedProfileLogin($payload: String!, $signature: String!, $signatureAlgorithm: String, $requestNonce: String!) {
    verifyTruecallerSignedProfile(payload: $payload, signature: $signature, signatureAlgorithm: $signatureAlgorithm, requestNonce: $requestNonce) {
      ${LOGIN_RESULT_FIELDS}
    }
  }
`;
const ME = "{ me { id phoneNumber } }";
const REFRESH_PROFILE = /* GraphQL */ `
  mutation RefreshProfile($provider: LoginProvider!) {
    refreshProfile(provider: $provider) { __typename ... on UserError { code } }
  }
`;

type Result = Record<string, unknown>;
interface Challenge {
  state: string;
  nonce: string;
  expiresAt: string;
}
interface Success {
  __typename: "LoginSuccess";
  isNewUser: boolean;
  session: { accessToken: string };
  user: { id: string; phoneNumber: string };
}

async function data<T>(body: Promise<{ data?: T; errors?: unknown }>): Promise<T> {
  const answer = await body;
  if (!answer.data) throw new Error(`GraphQL errors: ${JSON.stringify(answer.errors)}`);
  return answer.data;
}

function startLogin(baseUrl: string, provider: "TRUECALLER" | "OIDC" | "WGTWO"): Promise<Challenge> {
  return data(postGraphql<{ startLogin: Challenge }>(baseUrl, START_LOGIN_MUTATION, { provider })).then((answer) => answer.startLogin);
}

function verifyTruecaller(baseUrl: string, code: string, verifier: string, state?: string): Promise<Result> {
  return data(postGraphql<{ verifyTruecaller: Result }>(baseUrl, VERIFY_MUTATION, { code, verifier, ...(state === undefined ? {} : { state }) })).then(
    (answer) => answer.verifyTruecaller,
  );
}

function verifyPhoneLogin(
  baseUrl: string,
  input: { provider: "TRUECALLER" | "OIDC" | "WGTWO"; code: string; verifier?: string; redirectUri?: string; nonce?: string; state?: string },
): Promise<Result> {
  return data(postGraphql<{ verifyPhoneLogin: Result }>(baseUrl, VERIFY_PHONE_LOGIN_MUTATION, { input })).then((answer) => answer.verifyPhoneLogin);
}

function signedProfileLogin(baseUrl: string, input: { payload: string; signature: string; signatureAlgorithm: string; requestNonce: string }): Promise<Result> {
  return data(postGraphql<{ verifyTruecallerSignedProfile: Result }>(baseUrl, SIGNED_PROFILE_LOGIN, input)).then(
    (answer) => answer.verifyTruecallerSignedProfile,
  );
}




/** Another gateway on the same database, Redis key space and emulators as `t`, with `env` changed. */
function startInstance(t: TestGateway, env: Record<string, string> = {}): Promise<Gateway> {
  return startGateway(loadConfig({ ...t.env, ...env }), { logger: captureLogs().logger });
}

/** Every key of the test's Redis key space (without the prefix) with its value(s) as text. */
async function redisContents(t: TestGateway): Promise<Map<string, string>> {
  const prefix = t.env.REDIS_KEY_PREFIX!;
  // KEYS takes a pattern, which ioredis does not prefix; the keys it returns carry the prefix.
  const keys = (await t.redis.keys(`${prefix}*`)).map((key) => key.slice(prefix.length));
  const contents = new Map<string, string>();
  for (const key of keys) contents.set(key, await valueText(t, key));
  return contents;
}

/** A Redis value as text, whatever its type. */
async function valueText(t: TestGateway, key: string): Promise<string> {
  switch (await t.redis.type(key)) {
    case "string":
      return (await t.redis.get(key)) ?? "";
    case "hash":
      return JSON.stringify(await t.redis.hgetall(key));
    case "set":
      return JSON.stringify(await t.redis.smembers(key));
    case "zset":
      return JSON.stringify(await t.redis.zrange(key, "0", "-1"));
    case "list":
      return JSON.stringify(await t.redis.lrange(key, 0, -1));
    default:
      return "";
  }
}

async function keysLike(t: TestGateway, kind: "login-replay" | "login-used"): Promise<string[]> {
  return [...(await redisContents(t)).keys()].filter((key) => key.startsWith(`${kind}:`));
}

describe("code logins are idempotent and bound to their request", () => {
  let t: TestGateway;

  beforeAll(async () => {
    t = await startTestGateway({ env: { LOGIN_REPLAY_TTL_S: String(REPLAY_TTL_S), LOGIN_STATE_TTL_S: String(STATE_TTL_S) } });
  });
  afterAll(async () => {
    await t?.close();
  });
  beforeEach(() => {
    t.emulator.reset();
    t.oidc.reset();
  });

  function me(accessToken: string) {
    return t.graphql<{ me: { id: string } | null }>(ME, {}, { authorization: `Bearer ${accessToken}` });
  }

  function mintTruecaller() {
    const minted = t.emulator.mintCode();
    return { code: minted.code, verifier: minted.codeVerifier! };
  }

  describe("replays", () => {
    it("answers the same (code, verifier) twice with the same user and two sessions, asking the provider once", async () => {
      const { code, verifier } = mintTruecaller();
      const first = asLoginSuccess<Success>(await t.verify(code, verifier));
      const second = asLoginSuccess<Success>(await t.verify(code, verifier));

      expect(second.user.id).toBe(first.user.id);
      expect([first.isNewUser, second.isNewUser]).toEqual([true, false]);
      expect(second.session.accessToken).not.toBe(first.session.accessToken);
      for (const { session } of [first, second]) {
        expect((await me(session.accessToken)).data?.me).toMatchObject({ id: first.user.id });
      }
      expect(t.emulator.requestCount("token")).toBe(1);
      expect(t.emulator.requestCount("userinfo")).toBe(1);
    });

    it("makes one provider call for 8 concurrent duplicates on one instance", async () => {
      const { code, verifier } = mintTruecaller();
      // Both provider calls are held, so the duplicates arrive during each of them. Regression: duplicates that
      // found the tokens kept while the first request was still reading the profile each read it again.
      t.emulator.injectFault({ endpoint: "token", delayMs: HOLD_MS });
      t.emulator.injectFault({ endpoint: "userinfo", delayMs: HOLD_MS });
      const results = (await Promise.all(Array.from({ length: 8 }, () => t.verify(code, verifier)))).map((result) => asLoginSuccess<Success>(result));

      expect(new Set(results.map((result) => result.user.id)).size).toBe(1);
      expect(results.filter((result) => result.isNewUser)).toHaveLength(1);
      expect(new Set(results.map((result) => result.session.accessToken)).size).toBe(8);
      expect(t.emulator.requestCount("token")).toBe(1);
      expect(t.emulator.requestCount("userinfo")).toBe(1);
    });

    it("makes one provider call for 6 concurrent duplicates split over two instances on one database and Redis", async () => {
      const other = await startInstance(t);
      try {
        const { code, verifier } = mintTruecaller();
        t.emulator.injectFault({ endpoint: "token", delayMs: HOLD_MS });
        t.emulator.injectFault({ endpoint: "userinfo", delayMs: HOLD_MS });
        const urls = [t.gateway.url, other.url, t.gateway.url, other.url, t.gateway.url, other.url];
        const results = (await Promise.all(urls.map((url) => verifyTruecaller(url, code, verifier)))).map((result) => asLoginSuccess<Success>(result));

        expect(new Set(results.map((result) => result.user.id)).size).toBe(1);
        expect(t.emulator.requestCount("token")).toBe(1);
        expect(t.emulator.requestCount("userinfo")).toBe(1);
      } finally {
        await other.close();
      }
    });

    it("refuses the code with another verifier or another state as INVALID_CODE, without asking the provider", async () => {
      const { code, verifier } = mintTruecaller();
      asLoginSuccess<Success>(await t.verify(code, verifier));

      expect(await t.verify(code, otherVerifier())).toMatchObject({ __typename: "InvalidCodeError", code: "INVALID_CODE" });
      // A state this gateway issued and nobody used: the code is refused for the difference, not the state.
      const { state } = await startLogin(t.gateway.url, "TRUECALLER");
      expect(await verifyTruecaller(t.gateway.url, code, verifier, state)).toMatchObject({ code: "INVALID_CODE" });
      expect(t.emulator.requestCount("token")).toBe(1);
      // The refusals did not spoil the real retry.
      asLoginSuccess<Success>(await t.verify(code, verifier));
      expect(t.emulator.requestCount("token")).toBe(1);
    });

    it("refuses an OIDC code with another redirect URI, nonce or none as INVALID_CODE, without asking the provider", async () => {
      const minted = t.oidc.mintCode({ nonce: "nonce-one" });
      const input = { provider: "OIDC" as const, code: minted.code, verifier: minted.codeVerifier!, nonce: "nonce-one" };
      const first = asLoginSuccess<Success>(await verifyPhoneLogin(t.gateway.url, input));
      const tokenRequests = t.oidc.requestCount("token");

      for (const changed of [
        { ...input, redirectUri: "com.example.app://elsewhere" },
        { ...input, nonce: "nonce-two" },
        { provider: input.provider, code: input.code, verifier: input.verifier },
        { ...input, verifier: otherVerifier() },
      ]) {
        expect(await verifyPhoneLogin(t.gateway.url, changed)).toMatchObject({ code: "INVALID_CODE" });
      }
      expect(t.oidc.requestCount("token")).toBe(tokenRequests);
      expect(asLoginSuccess<Success>(await verifyPhoneLogin(t.gateway.url, input)).user.id).toBe(first.user.id);
      expect(t.oidc.requestCount("token")).toBe(tokenRequests);
    });

    it("releases a code whose exchange failed: after PROVIDER_UNAVAILABLE the retry asks the provider again and succeeds", async () => {
      const { code, verifier } = mintTruecaller();
      t.emulator.injectFault({ endpoint: "token", error: "temporarily_unavailable", retryAfterSeconds: 0, times: 3 });
      expect(await t.verify(code, verifier)).toMatchObject({ code: "PROVIDER_UNAVAILABLE" });
      expect(t.emulator.requestCount("token")).toBe(3);

      asLoginSuccess<Success>(await t.verify(code, verifier));
      expect(t.emulator.requestCount("token")).toBe(4);
    });

    it("resumes from the kept tokens when the profile read failed: the retry spends no second code exchange", async () => {
      const { code, verifier } = mintTruecaller();
      t.emulator.injectFault({ endpoint: "userinfo", status: 503, retryAfterSeconds: 0, times: 3 });
      expect(await t.verify(code, verifier)).toMatchObject({ code: "PROVIDER_UNAVAILABLE" });
      expect(t.emulator.requestCount("token")).toBe(1);

      asLoginSuccess<Success>(await t.verify(code, verifier));
      expect(t.emulator.requestCount("token")).toBe(1);
      expect(t.emulator.requestCount("userinfo")).toBe(4);
    });

    it("answers a duplicate with another verifier, sent while the first is at the provider, INVALID_CODE", async () => {
      const { code, verifier } = mintTruecaller();
      t.emulator.injectFault({ endpoint: "token", delayMs: HOLD_MS });
      const [genuine, stolen] = await Promise.all([t.verify(code, verifier), t.verify(code, otherVerifier())]);
      asLoginSuccess<Success>(genuine);
      expect(stolen).toMatchObject({ code: "INVALID_CODE" });
      expect(t.emulator.requestCount("token")).toBe(1);
    });

    it("never answers a code without PKCE verifier twice (nothing secret binds a retry to it)", async () => {
      const minted = t.wgtwo.mintCode({ pkce: false });
      const tokenRequests = t.wgtwo.requestCount("token");
      asLoginSuccess<Success>(await verifyPhoneLogin(t.gateway.url, { provider: "WGTWO", code: minted.code }));
      expect(await verifyPhoneLogin(t.gateway.url, { provider: "WGTWO", code: minted.code })).toMatchObject({ code: "INVALID_CODE" });
      expect(t.wgtwo.requestCount("token")).toBe(tokenRequests + 1);
    });

    it("asks the provider again after it said INVALID_CODE, and passes its answer on again", async () => {
      const code = `never-issued-${randomUUID()}`;
      const verifier = otherVerifier();
      expect(await t.verify(code, verifier)).toMatchObject({ code: "INVALID_CODE" });
      expect(await t.verify(code, verifier)).toMatchObject({ code: "INVALID_CODE" });
      expect(t.emulator.requestCount("token")).toBe(2);
    });

    it("keeps codes in Redis only as keyed hashes, with the provider's answer sealed", async () => {
      const { code, verifier } = mintTruecaller();
      const success = asLoginSuccess<Success>(await t.verify(code, verifier));

      const contents = await redisContents(t);
      const replays = [...contents].filter(([key]) => key.startsWith("login-replay:"));
      expect(replays.some(([key]) => key.startsWith("login-replay:truecaller:"))).toBe(true);
      for (const [key, value] of replays) {
        expect(key).toMatch(/^login-replay:(truecaller|oidc|wgtwo):[A-Za-z0-9_-]{43}$/);
        expect(value).toMatch(SEALED_SHAPE);
        expect(value).not.toContain(success.user.phoneNumber.slice(1));
      }
      for (const [key, value] of contents) {
        for (const secret of [code, verifier]) {
          expect(key).not.toContain(secret);
          expect(value).not.toContain(secret);
        }
      }
    });

    it("keeps a verified code for LOGIN_REPLAY_TTL_S", async () => {
      const before = new Set(await keysLike(t, "login-replay"));
      const { code, verifier } = mintTruecaller();
      asLoginSuccess<Success>(await t.verify(code, verifier));
      const added = (await keysLike(t, "login-replay")).filter((key) => !before.has(key));

      expect(added).toHaveLength(1);
      const pttl = await t.redis.pttl(added[0]!);
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(REPLAY_TTL_S * 1000);
    });
  });

  describe("states and nonces from startLogin", () => {
    it("issues a self-validating state and nonce that expire after LOGIN_STATE_TTL_S, keeping nothing in Redis", async () => {
      const issuedAt = Date.now();
      const keysBefore = [...(await redisContents(t)).keys()].sort();
      const challenge = await startLogin(t.gateway.url, "TRUECALLER");
      expect([...(await redisContents(t)).keys()].sort()).toEqual(keysBefore);

      expect(challenge.state).toMatch(CHALLENGE_SHAPE);
      expect(challenge.nonce).toMatch(CHALLENGE_SHAPE);
      expect(challenge.nonce).not.toBe(challenge.state);
      expect(Math.abs(new Date(challenge.expiresAt).getTime() - (issuedAt + STATE_TTL_S * 1000))).toBeLessThan(5_000);
      // Neither is kept as itself.
      for (const [key, value] of await redisContents(t)) {
        expect(`${key} ${value}`).not.toContain(challenge.state);
      }
    });

    it("logs in with an issued state once: the same state with another code is INVALID_STATE without a provider call", async () => {
      const { state } = await startLogin(t.gateway.url, "TRUECALLER");
      const first = mintTruecaller();
      asLoginSuccess<Success>(await verifyTruecaller(t.gateway.url, first.code, first.verifier, state));
      expect(t.emulator.requestCount("token")).toBe(1);

      const second = mintTruecaller();
      expect(await verifyTruecaller(t.gateway.url, second.code, second.verifier, state)).toMatchObject({
        __typename: "InvalidStateError",
        code: "INVALID_STATE",
      });
      expect(t.emulator.requestCount("token")).toBe(1);
    });

    it("refuses a state issued for another provider, and an unknown one, though states are not required", async () => {
      const { state } = await startLogin(t.gateway.url, "OIDC");
      for (const presented of [state, randomBytes(32).toString("base64url")]) {
        const { code, verifier } = mintTruecaller();
        expect(await verifyTruecaller(t.gateway.url, code, verifier, presented)).toMatchObject({ code: "INVALID_STATE" });
      }
      expect(t.emulator.requestCount("token")).toBe(0);
    });

    it("refuses a state past its time to live", async () => {
      // Issued under the gateway's key by a clock one lifetime (and a second) behind: expired now.
      const stateTtlMs = STATE_TTL_S * 1000;
      const keyring = parseKeyring(t.env.TOKEN_ENCRYPTION_KEYS!)!;
      const late = new LoginChallenges(createMemoryCache(), new KeyedHash(keyring, "login state"), stateTtlMs, () => Date.now() - stateTtlMs - 1_000);
      const { state } = late.issue("truecaller");
      const { code, verifier } = mintTruecaller();
      expect(await verifyTruecaller(t.gateway.url, code, verifier, state)).toMatchObject({ code: "INVALID_STATE" });
      expect(t.emulator.requestCount("token")).toBe(0);
    });

    it("makes an OIDC ID token carry the nonce issued with the state, whatever the app sends", async () => {
      const issued = await startLogin(t.gateway.url, "OIDC");
      const good = t.oidc.mintCode({ nonce: issued.nonce });
      asLoginSuccess<Success>(await verifyPhoneLogin(t.gateway.url, { provider: "OIDC", code: good.code, verifier: good.codeVerifier!, state: issued.state }));

      // The ID token names a nonce the app chose: the issued one is checked, not the app's (absent) one.
      const other = await startLogin(t.gateway.url, "OIDC");
      const foreign = t.oidc.mintCode({ nonce: `app-chosen-${randomUUID()}` });
      expect(
        await verifyPhoneLogin(t.gateway.url, { provider: "OIDC", code: foreign.code, verifier: foreign.codeVerifier!, state: other.state }),
      ).toMatchObject({ code: "INVALID_ID_TOKEN" });

      // The app says another nonce than the one issued with the state: refused before the provider.
      const third = await startLogin(t.gateway.url, "OIDC");
      const minted = t.oidc.mintCode({ nonce: third.nonce });
      const tokenRequests = t.oidc.requestCount("token");
      expect(
        await verifyPhoneLogin(t.gateway.url, {
          provider: "OIDC",
          code: minted.code,
          verifier: minted.codeVerifier!,
          state: third.state,
          nonce: `not-${third.nonce}`,
        }),
      ).toMatchObject({ code: "INVALID_STATE" });
      expect(t.oidc.requestCount("token")).toBe(tokenRequests);
    });

    describe("with REQUIRE_LOGIN_STATE=true", () => {
      let required: Gateway;

      beforeAll(async () => {
        required = await startInstance(t, { REQUIRE_LOGIN_STATE: "true" });
      });
      afterAll(async () => {
        await required?.close();
      });

      function signProfile(requestNonce: string) {
        const signed = t.emulator.signProfile({ requestNonce, profile: { phoneNumber: `+${freshIndianNumber()}`, countryCode: "IN" } });
        return { payload: signed.payload, signature: signed.signature, signatureAlgorithm: signed.signatureAlgorithm, requestNonce };
      }

      it("refuses a code login without a state before the provider, takes a fresh one, and replays its request", async () => {
        const { code, verifier } = mintTruecaller();
        expect(await verifyTruecaller(required.url, code, verifier)).toMatchObject({ code: "INVALID_STATE" });
        expect(await verifyPhoneLogin(required.url, { provider: "TRUECALLER", code, verifier })).toMatchObject({ code: "INVALID_STATE" });
        expect(t.emulator.requestCount("token")).toBe(0);

        const { state } = await startLogin(required.url, "TRUECALLER");
        const first = asLoginSuccess<Success>(await verifyTruecaller(required.url, code, verifier, state));
        // The retry presents the state its first try used up: the kept exchange answers it.
        const retry = asLoginSuccess<Success>(await verifyTruecaller(required.url, code, verifier, state));
        expect(retry.user.id).toBe(first.user.id);
        expect(t.emulator.requestCount("token")).toBe(1);
      });

      it("lets a client retry after PROVIDER_UNAVAILABLE with the same code and state", async () => {
        // Regression: the first try uses the state up although the provider never answered; the retry the
        // error invites (retryAfterSeconds) must reach the provider, not be refused as INVALID_STATE.
        const { state } = await startLogin(required.url, "TRUECALLER");
        const { code, verifier } = mintTruecaller();
        t.emulator.injectFault({ endpoint: "token", error: "temporarily_unavailable", retryAfterSeconds: 0, times: 3 });
        expect(await verifyTruecaller(required.url, code, verifier, state)).toMatchObject({ code: "PROVIDER_UNAVAILABLE" });

        asLoginSuccess<Success>(await verifyTruecaller(required.url, code, verifier, state));
        expect(t.emulator.requestCount("token")).toBe(4);
      });

      it("takes a signed profile only with a requestNonce issued by startLogin, once", async () => {
        const { nonce } = await startLogin(required.url, "TRUECALLER");
        asLoginSuccess<Success>(await signedProfileLogin(required.url, signProfile(nonce)));
        // Used up: a fresh payload signed for the same nonce is refused.
        expect(await signedProfileLogin(required.url, signProfile(nonce))).toMatchObject({ code: "INVALID_STATE" });

        expect(await signedProfileLogin(required.url, signProfile(randomUUID()))).toMatchObject({ code: "INVALID_STATE" });
        const forOidc = await startLogin(required.url, "OIDC");
        expect(await signedProfileLogin(required.url, signProfile(forOidc.nonce))).toMatchObject({ code: "INVALID_STATE" });
        // The issued state is no requestNonce either.
        const challenge = await startLogin(required.url, "TRUECALLER");
        expect(await signedProfileLogin(required.url, signProfile(challenge.state))).toMatchObject({ code: "INVALID_STATE" });
      });
    });
  });
});

describe("code logins while the database is down", () => {
  let t: TestGateway;
  let required: Gateway;

  beforeAll(async () => {
    t = await startTestGateway();
    required = await startInstance(t, { REQUIRE_LOGIN_STATE: "true" });
    // The helper cuts the database off for good; "back" is another instance on a working database and
    // the same Redis key space, as a restored database would be to this one.
    await t.refuseDatabaseConnections();
  });
  afterAll(async () => {
    await required?.close();
    await t?.close();
  });

  /** Runs `use` against an instance on a fresh database, the same Redis key space and emulators, with `env` changed. */
  async function afterRecovery(env: Record<string, string>, use: (baseUrl: string) => Promise<void>): Promise<void> {
    const database = await createTestDatabase();
    const gateway = await startInstance(t, { DATABASE_URL: database.url, ...env });
    try {
      await use(gateway.url);
    } finally {
      await gateway.close();
      await database.drop();
    }
  }

  it("keeps the provider's answer, so the retry logs in without a second provider call", async () => {
    const minted = t.emulator.mintCode();
    const failed = await postGraphql(t.gateway.url, VERIFY_MUTATION, { code: minted.code, verifier: minted.codeVerifier });
    // No login, and the client is told to retry.
    expect(failed.data?.verifyTruecaller).toMatchObject({ code: "SERVICE_UNAVAILABLE" });
    expect(t.emulator.requestCount("token")).toBe(1);

    await afterRecovery({}, async (baseUrl) => {
      expect(await verifyTruecaller(baseUrl, minted.code, minted.codeVerifier!)).toMatchObject({
        __typename: "LoginSuccess",
        user: { phoneNumber: expect.stringMatching(/^\+91/) },
      });
    });
    expect(t.emulator.requestCount("token")).toBe(1);
    expect(t.emulator.requestCount("userinfo")).toBe(1);
  });

  it("keeps the provider's access token of a login that a retry completed after the outage", async () => {
    // Regression: a replayed exchange skips keeping the access token, assuming its first request kept it;
    // after an outage the first request never got that far, so refreshProfile(TRUECALLER) had no token.
    const minted = t.emulator.mintCode();
    await postGraphql(t.gateway.url, VERIFY_MUTATION, { code: minted.code, verifier: minted.codeVerifier });
    await afterRecovery({}, async (baseUrl) => {
      const { user, session } = asLoginSuccess<Success>(await verifyTruecaller(baseUrl, minted.code, minted.codeVerifier!));
      const refreshed = await postGraphql<{ refreshProfile: Result }>(baseUrl, REFRESH_PROFILE, { provider: "TRUECALLER" }, {
        authorization: `Bearer ${session.accessToken}`,
      });
      expect(refreshed.data?.refreshProfile).toMatchObject({ __typename: "ProfileRefreshed" });
      expect(await t.providerTokens.get("truecaller", user.id)).toMatchObject({ tokenType: "Bearer" });
    });
  });

  it("lets the same signed profile log in after the outage when REQUIRE_LOGIN_STATE is on", async () => {
    // Regression: the failed try used up the issued requestNonce while giving the payload back for a retry.
    const { nonce } = await startLogin(required.url, "TRUECALLER");
    const signed = t.emulator.signProfile({ requestNonce: nonce, profile: { phoneNumber: `+${freshIndianNumber()}`, countryCode: "IN" } });
    const input = { payload: signed.payload, signature: signed.signature, signatureAlgorithm: signed.signatureAlgorithm, requestNonce: nonce };
    const failed = await postGraphql(required.url, SIGNED_PROFILE_LOGIN, input);
    expect(failed.data?.verifyTruecallerSignedProfile).toMatchObject({ code: "SERVICE_UNAVAILABLE" });

    await afterRecovery({ REQUIRE_LOGIN_STATE: "true" }, async (baseUrl) => {
      expect(await signedProfileLogin(baseUrl, input)).toMatchObject({ __typename: "LoginSuccess" });
    });
  });
});
