import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  isOutage,
  CONSECUTIVE_OUTAGES_TO_OPEN,
  HALF_OPEN_AFTER_MS,
  TRIAL_RETRY_AFTER_S,
  numberVerificationWithCircuitBreaker,
  withCircuitBreaker,
} from "../../src/providers/circuit-breaker.js";
import type { NormalizedPhoneNumber } from "../../src/providers/phone-number.js";
import type { AuthorizationCodeGrant, PhoneLoginProvider, ProviderFailure, ProviderProfile, ProviderResult, ProviderTokens } from "../../src/providers/provider.js";
import type { TruecallerNumberVerification } from "../../src/providers/truecaller/phone-number-detail.js";
import { malformed } from "../../src/providers/oauth-response.js";
import { captureLogs } from "../helpers/log-capture.js";

const GRANT: AuthorizationCodeGrant = { code: "code", codeVerifier: "v".repeat(43), redirectUri: undefined, nonce: undefined };
const TOKENS: ProviderTokens = {
  access: { accessToken: "access", tokenType: "Bearer", expiresAt: new Date(0) },
  refreshToken: "refresh",
  idToken: undefined,
};
const PROFILE: ProviderProfile = {
  subject: "subject",
  phoneNumber: undefined,
  phoneNumberVerified: false,
  givenName: undefined,
  familyName: undefined,
  email: undefined,
  picture: undefined,
  gender: undefined,
  address: undefined,
};
const OUTAGE: ProviderFailure = { kind: "Unavailable", detail: "fake token: HTTP 503", retryAfterSeconds: undefined };
/** Every answer that proves the provider reachable, though the login fails. */
const ANSWERS: ProviderFailure[] = [
  { kind: "InvalidCode" },
  { kind: "InvalidVerifier" },
  { kind: "AccessDenied" },
  { kind: "InvalidIdToken", detail: "aud" },
  { kind: "ProfileUnavailable", detail: "userinfo: HTTP 401" },
  { kind: "Misconfigured", detail: "invalid_client" },
  { kind: "RateLimited", retryAfterSeconds: 30 },
  { kind: "RefreshTokenRejected", detail: "invalid_grant" },
];
const CIRCUIT_OPEN = (provider: string, retryAfterSeconds: number): ProviderResult<never> => ({
  ok: false,
  failure: { kind: "Unavailable", detail: `${provider} circuit open`, retryAfterSeconds },
});

const failed = (failure: ProviderFailure): ProviderResult<never> => ({ ok: false, failure });
const signal = () => AbortSignal.timeout(5_000);

/** A provider whose every call answers what the test last told it to, and counts. */
function fakeProvider() {
  let next: () => Promise<ProviderResult<ProviderTokens>> = async () => ({ ok: true, value: TOKENS });
  const provider = {
    id: "oidc" as const,
    grantRules: { verifier: "required", redirectUri: "optional", nonce: "supported" } as const,
    exchangeCode: vi.fn((_grant: AuthorizationCodeGrant, _signal: AbortSignal) => next()),
    fetchProfile: vi.fn(async (_tokens: ProviderTokens, _signal: AbortSignal): Promise<ProviderResult<ProviderProfile>> => ({ ok: true, value: PROFILE })),
    refreshTokens: vi.fn((_refreshToken: string, _signal: AbortSignal) => next()),
  } satisfies PhoneLoginProvider;
  return {
    provider,
    answer(result: ProviderResult<ProviderTokens> | (() => Promise<ProviderResult<ProviderTokens>>)) {
      next = typeof result === "function" ? result : async () => result;
    },
    calls: () => provider.exchangeCode.mock.calls.length + provider.fetchProfile.mock.calls.length + provider.refreshTokens.mock.calls.length,
  };
}

describe("withCircuitBreaker", () => {
  // cockatiel reads Date.now(); only the clock is faked, so nothing here sleeps.
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"], now: new Date("2025-01-01T00:00:00Z") });
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  const advance = (ms: number) => vi.setSystemTime(Date.now() + ms);

  function setup() {
    const fake = fakeProvider();
    const logs = captureLogs();
    const breaker = withCircuitBreaker(fake.provider, { logger: logs.logger });
    const open = async () => {
      fake.answer(failed(OUTAGE));
      for (let i = 0; i < CONSECUTIVE_OUTAGES_TO_OPEN; i += 1) expect(await breaker.exchangeCode(GRANT, signal())).toEqual(failed(OUTAGE));
    };
    return { ...fake, breaker, logs, open };
  }

  it("keeps the provider's id and grant rules, and passes answers through while closed", async () => {
    const { breaker, provider } = setup();
    expect(breaker.id).toBe("oidc");
    expect(breaker.grantRules).toBe(provider.grantRules);
    expect(await breaker.exchangeCode(GRANT, signal())).toEqual({ ok: true, value: TOKENS });
    expect(await breaker.fetchProfile(TOKENS, signal())).toEqual({ ok: true, value: PROFILE });
    expect(await breaker.refreshTokens?.("refresh", signal())).toEqual({ ok: true, value: TOKENS });
    expect(provider.exchangeCode).toHaveBeenCalledWith(GRANT, expect.any(AbortSignal));
  });

  it("has no refreshTokens when the provider has none", () => {
    const { provider } = fakeProvider();
    const { refreshTokens: _none, ...withoutRefresh } = provider;
    expect(withCircuitBreaker(withoutRefresh, { logger: captureLogs().logger }).refreshTokens).toBeUndefined();
  });

  it(`opens after ${CONSECUTIVE_OUTAGES_TO_OPEN} outages in a row, then answers at once without calling the provider`, async () => {
    const { breaker, open, calls, logs } = setup();
    await open();
    expect(calls()).toBe(CONSECUTIVE_OUTAGES_TO_OPEN);

    expect(await breaker.exchangeCode(GRANT, signal())).toEqual(CIRCUIT_OPEN("oidc", HALF_OPEN_AFTER_MS / 1000));
    // One breaker for every call of the provider.
    expect(await breaker.fetchProfile(TOKENS, signal())).toEqual(CIRCUIT_OPEN("oidc", HALF_OPEN_AFTER_MS / 1000));
    expect(await breaker.refreshTokens?.("refresh", signal())).toEqual(CIRCUIT_OPEN("oidc", HALF_OPEN_AFTER_MS / 1000));
    expect(calls()).toBe(CONSECUTIVE_OUTAGES_TO_OPEN);
    expect(logs.entries()).toContainEqual(
      expect.objectContaining({ level: 40, provider: "oidc", detail: OUTAGE.detail, msg: expect.stringContaining("provider circuit opened") }),
    );
  });

  it("does not open one outage short of the threshold, and an answer in between starts the count again", async () => {
    const { breaker, answer, calls } = setup();
    answer(failed(OUTAGE));
    for (let i = 1; i < CONSECUTIVE_OUTAGES_TO_OPEN; i += 1) await breaker.exchangeCode(GRANT, signal());
    answer(failed({ kind: "InvalidCode" }));
    await breaker.exchangeCode(GRANT, signal());
    answer(failed(OUTAGE));
    for (let i = 1; i < CONSECUTIVE_OUTAGES_TO_OPEN; i += 1) await breaker.exchangeCode(GRANT, signal());
    answer({ ok: true, value: TOKENS });
    expect(await breaker.exchangeCode(GRANT, signal())).toEqual({ ok: true, value: TOKENS });
    expect(calls()).toBe(2 * CONSECUTIVE_OUTAGES_TO_OPEN);
  });

  it("tells the client the seconds left until the trial call, rounded up", async () => {
    const { breaker, open } = setup();
    await open();
    advance(12_300);
    expect(await breaker.exchangeCode(GRANT, signal())).toEqual(CIRCUIT_OPEN("oidc", 18));
    advance(HALF_OPEN_AFTER_MS - 12_300 - 1);
    expect(await breaker.exchangeCode(GRANT, signal())).toEqual(CIRCUIT_OPEN("oidc", 1));
  });

  it("lets one trial call through after the half-open delay; its success closes the circuit", async () => {
    const { breaker, open, answer, calls, logs } = setup();
    await open();
    advance(HALF_OPEN_AFTER_MS);
    answer({ ok: true, value: TOKENS });
    expect(await breaker.exchangeCode(GRANT, signal())).toEqual({ ok: true, value: TOKENS });
    expect(await breaker.fetchProfile(TOKENS, signal())).toEqual({ ok: true, value: PROFILE });
    expect(calls()).toBe(CONSECUTIVE_OUTAGES_TO_OPEN + 2);
    expect(logs.entries()).toContainEqual(expect.objectContaining({ level: 30, provider: "oidc", msg: expect.stringContaining("provider circuit closed") }));

    // Closed again, with a fresh count: it takes the whole threshold to open it anew.
    answer(failed(OUTAGE));
    for (let i = 1; i < CONSECUTIVE_OUTAGES_TO_OPEN; i += 1) expect(await breaker.exchangeCode(GRANT, signal())).toEqual(failed(OUTAGE));
  });

  it("opens again for the whole delay when the trial call meets an outage", async () => {
    const { breaker, open, calls, logs } = setup();
    await open();
    advance(HALF_OPEN_AFTER_MS);
    expect(await breaker.exchangeCode(GRANT, signal())).toEqual(failed(OUTAGE));
    expect(calls()).toBe(CONSECUTIVE_OUTAGES_TO_OPEN + 1);
    expect(await breaker.exchangeCode(GRANT, signal())).toEqual(CIRCUIT_OPEN("oidc", HALF_OPEN_AFTER_MS / 1000));
    expect(calls()).toBe(CONSECUTIVE_OUTAGES_TO_OPEN + 1);
    expect(logs.entries()).toContainEqual(expect.objectContaining({ level: 40, msg: expect.stringContaining("opened again") }));

    advance(HALF_OPEN_AFTER_MS);
    expect(await breaker.exchangeCode(GRANT, signal())).toEqual(failed(OUTAGE));
    expect(calls()).toBe(CONSECUTIVE_OUTAGES_TO_OPEN + 2);
  });

  it("answers other calls at once while the trial call is in flight", async () => {
    const { breaker, open, answer, calls } = setup();
    await open();
    advance(HALF_OPEN_AFTER_MS);
    let finishTrial!: (result: ProviderResult<ProviderTokens>) => void;
    answer(() => new Promise((resolve) => (finishTrial = resolve)));
    const trial = breaker.exchangeCode(GRANT, signal());
    expect(await breaker.exchangeCode(GRANT, signal())).toEqual(CIRCUIT_OPEN("oidc", TRIAL_RETRY_AFTER_S));
    expect(calls()).toBe(CONSECUTIVE_OUTAGES_TO_OPEN + 1);
    finishTrial({ ok: true, value: TOKENS });
    expect(await trial).toEqual({ ok: true, value: TOKENS });
  });

  it.each(ANSWERS.map((failure) => [failure.kind, failure] as const))("never opens on %s, however often", async (_kind, failure) => {
    const { breaker, answer, calls } = setup();
    answer(failed(failure));
    for (let i = 0; i < 3 * CONSECUTIVE_OUTAGES_TO_OPEN; i += 1) expect(await breaker.exchangeCode(GRANT, signal())).toEqual(failed(failure));
    expect(calls()).toBe(3 * CONSECUTIVE_OUTAGES_TO_OPEN);
  });

  it("does not open on 429s interleaved with outages: a rate limit is an answer", async () => {
    const { breaker, answer, calls } = setup();
    for (let i = 0; i < 3 * CONSECUTIVE_OUTAGES_TO_OPEN; i += 1) {
      answer(failed(i % 2 === 0 ? OUTAGE : { kind: "RateLimited", retryAfterSeconds: 5 }));
      await breaker.exchangeCode(GRANT, signal());
    }
    expect(calls()).toBe(3 * CONSECUTIVE_OUTAGES_TO_OPEN);
  });

  it("passes a thrown error (a bug) through without counting it", async () => {
    const { breaker, answer, calls } = setup();
    answer(failed(OUTAGE));
    for (let i = 1; i < CONSECUTIVE_OUTAGES_TO_OPEN; i += 1) await breaker.exchangeCode(GRANT, signal());
    answer(() => Promise.reject(new TypeError("bug")));
    for (let i = 0; i < CONSECUTIVE_OUTAGES_TO_OPEN; i += 1) await expect(breaker.exchangeCode(GRANT, signal())).rejects.toThrow("bug");
    // The count stood still: one more outage is the fifth in a row.
    answer(failed(OUTAGE));
    await breaker.exchangeCode(GRANT, signal());
    expect(await breaker.exchangeCode(GRANT, signal())).toEqual(CIRCUIT_OPEN("oidc", HALF_OPEN_AFTER_MS / 1000));
    expect(calls()).toBe(2 * CONSECUTIVE_OUTAGES_TO_OPEN);
  });

  it("gives each provider its own breaker", async () => {
    const { open, breaker } = setup();
    await open();
    const other = fakeProvider();
    const otherBreaker = withCircuitBreaker({ ...other.provider, id: "wgtwo" }, { logger: captureLogs().logger });
    expect(await breaker.exchangeCode(GRANT, signal())).toMatchObject(CIRCUIT_OPEN("oidc", HALF_OPEN_AFTER_MS / 1000));
    expect(await otherBreaker.exchangeCode(GRANT, signal())).toEqual({ ok: true, value: TOKENS });
  });
});

describe("numberVerificationWithCircuitBreaker", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"], now: new Date("2025-01-01T00:00:00Z") });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("opens as truecaller_otp after outages, never on an invalid access token, and closes after a good trial", async () => {
    const number: NormalizedPhoneNumber = { e164: "+919812345678", countryCode: "IN" };
    let next: ProviderResult<NormalizedPhoneNumber> = failed({ kind: "InvalidCode" });
    const verifiedNumber = vi.fn(async (_accessToken: string, _signal: AbortSignal) => next);
    const numbers: TruecallerNumberVerification = numberVerificationWithCircuitBreaker({ verifiedNumber }, { logger: captureLogs().logger });

    for (let i = 0; i < 2 * CONSECUTIVE_OUTAGES_TO_OPEN; i += 1) await numbers.verifiedNumber("token", signal());
    next = failed(OUTAGE);
    for (let i = 0; i < CONSECUTIVE_OUTAGES_TO_OPEN; i += 1) await numbers.verifiedNumber("token", signal());
    expect(await numbers.verifiedNumber("token", signal())).toEqual(CIRCUIT_OPEN("truecaller_otp", HALF_OPEN_AFTER_MS / 1000));
    expect(verifiedNumber).toHaveBeenCalledTimes(3 * CONSECUTIVE_OUTAGES_TO_OPEN);

    vi.setSystemTime(Date.now() + HALF_OPEN_AFTER_MS);
    next = { ok: true, value: number };
    expect(await numbers.verifiedNumber("token", signal())).toEqual({ ok: true, value: number });
    expect(await numbers.verifiedNumber("token", signal())).toEqual({ ok: true, value: number });
  });
});

describe("what counts as an outage", () => {
  it("counts no answer, and not a malformed one: one user's odd profile must not shut the provider for everyone", () => {
    expect(isOutage({ ok: false, failure: { kind: "Unavailable", detail: "oidc token: timed out", retryAfterSeconds: undefined } })).toBe(true);
    expect(isOutage({ ok: false, failure: malformed("oidc userinfo", '"phone_number" is not a phone number') })).toBe(false);
    expect(isOutage({ ok: false, failure: { kind: "RateLimited", retryAfterSeconds: 5 } })).toBe(false);
  });
});
