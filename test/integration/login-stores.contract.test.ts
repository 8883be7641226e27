/**
 * The login stores (used states and nonces, replayed code exchanges) over each TtlCache the gateway
 * can run on: Redis for deployments, the in-process LRU for the embedded mode. Every call and write is
 * recorded on its way to the cache, so the tests can say what is kept, and that a refusal asked nothing,
 * without knowing how a backend lists keys.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROVIDER_IDS } from "../../src/providers/provider.js";
import { KeyedHash } from "../../src/store/keyed-hash.js";
import { LoginChallenges } from "../../src/store/login-challenges.js";
import { LoginReplays, type VerifiedExchange } from "../../src/store/login-replays.js";
import { connectRedis } from "../../src/store/redis.js";
import { parseKeyring, TokenCipher } from "../../src/store/token-cipher.js";
import { createMemoryCache, createRedisCache, type TtlCache } from "../../src/store/ttl-cache.js";
import { captureLogs } from "../helpers/log-capture.js";
import { TEST_REDIS_URL } from "../helpers/test-gateway.js";

const STATE_TTL_MS = 60_000;
const REPLAY_TTL_MS = 60_000;
const CLAIM_TTL_MS = 17_000;
/** Where the clock LoginChallenges dates its expiries with starts. */
const START = Date.UTC(2030, 0, 1);
/** A self-validating state or nonce: version, expiry, login id and MAC, 39 bytes in base64url. */
const CHALLENGE_SHAPE = /^[A-Za-z0-9_-]{52}$/;
/** Truecaller's `requestNonce` is base64url of 8 to 64 characters. */
const MAX_REQUEST_NONCE_LENGTH = 64;
/** `<keyId>.<iv>.<ciphertext>.<tag>` sealed with the key "test". */
const SEALED_SHAPE = /^test\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/;

interface Subject {
  cache: TtlCache;
  /** How many keys the backend holds, counted by the backend itself (undefined where it cannot list them). */
  keyCount?: () => Promise<number>;
  /** Lets `ms` pass for every entry, as the backend sees time. */
  elapse(ms: number): Promise<void>;
  close(): Promise<void>;
}

type CacheCall = Exclude<keyof TtlCache, "kind">;

/** Wraps a cache so that every key and value written to it, and every call made to it, is kept for inspection. */
function recording(cache: TtlCache): { cache: TtlCache; written: Array<{ key: string; value: string; ttlMs: number }>; calls: CacheCall[] } {
  const written: Array<{ key: string; value: string; ttlMs: number }> = [];
  const calls: CacheCall[] = [];
  return {
    written,
    calls,
    cache: {
      kind: cache.kind,
      set: (key, value, ttlMs) => {
        calls.push("set");
        written.push({ key, value, ttlMs });
        return cache.set(key, value, ttlMs);
      },
      setIfAbsent: (key, value, ttlMs) => {
        calls.push("setIfAbsent");
        written.push({ key, value, ttlMs });
        return cache.setIfAbsent(key, value, ttlMs);
      },
      get: (key) => (calls.push("get"), cache.get(key)),
      delete: (key) => (calls.push("delete"), cache.delete(key)),
      take: (key) => (calls.push("take"), cache.take(key)),
      ping: () => (calls.push("ping"), cache.ping()),
      close: () => (calls.push("close"), cache.close()),
    },
  };
}

/** `token` with the character at `index` changed to another base64url character. */
function flipped(token: string, index: number): string {
  const replacement = token[index] === "A" ? "B" : "A";
  return `${token.slice(0, index)}${replacement}${token.slice(index + 1)}`;
}

function exchangeFor(phone: string): VerifiedExchange {
  return {
    profile: {
      subject: `subject-${randomUUID()}`,
      phoneNumber: { e164: phone, countryCode: "IN" },
      phoneNumberVerified: true,
      givenName: "Asha",
      familyName: undefined,
      email: "asha@example.com",
      picture: undefined,
      gender: undefined,
      address: { locality: "Bangalore", postalCode: undefined },
    },
    access: { accessToken: `access-${randomBytes(16).toString("hex")}`, tokenType: "Bearer", expiresAt: new Date(START + 3_600_000) },
    refreshToken: `refresh-${randomBytes(16).toString("hex")}`,
  };
}

function loginStoresContract(name: string, open: () => Promise<Subject>) {
  describe(`login stores contract: ${name}`, () => {
    let subject: Subject;
    let challenges: LoginChallenges;
    let replays: LoginReplays;
    let written: Array<{ key: string; value: string; ttlMs: number }>;
    let calls: CacheCall[];
    let recordedCache: TtlCache;
    /** LoginChallenges' clock, moved with the cache's by {@link pass}. */
    let now = START;
    const keyring = parseKeyring(`test:${randomBytes(32).toString("base64")}`)!;

    beforeAll(async () => {
      subject = await open();
      const recorded = recording(subject.cache);
      written = recorded.written;
      calls = recorded.calls;
      recordedCache = recorded.cache;
      challenges = new LoginChallenges(recorded.cache, new KeyedHash(keyring, "login state"), STATE_TTL_MS, () => now);
      replays = new LoginReplays(recorded.cache, new TokenCipher(keyring), new KeyedHash(keyring, "login replay"));
    });
    afterAll(async () => subject?.close());

    /** Lets `ms` pass for the cache and the challenges' clock alike. */
    async function pass(ms: number): Promise<void> {
      now += ms;
      await subject.elapse(ms);
    }

    describe("LoginChallenges", () => {
      /** Runs `act`, expecting it not to have called the cache at all. */
      async function untouched<T>(act: () => Promise<T>): Promise<T> {
        const before = calls.length;
        const result = await act();
        expect(calls.slice(before)).toEqual([]);
        return result;
      }

      it("issues a fresh state and nonce that vouch for themselves, short enough for Truecaller's requestNonce", async () => {
        const first = await challenges.issue("truecaller");
        const second = await challenges.issue("truecaller");

        expect(first.state).toMatch(CHALLENGE_SHAPE);
        expect(first.nonce).toMatch(CHALLENGE_SHAPE);
        expect(first.nonce.length).toBeLessThanOrEqual(MAX_REQUEST_NONCE_LENGTH);
        expect(new Set([first.state, first.nonce, second.state, second.nonce]).size).toBe(4);
        expect(first.expiresAt).toEqual(new Date(now + STATE_TTL_MS));
      });

      it("keeps nothing for issued states: 100 of them do not touch the cache", async () => {
        const keysBefore = await subject.keyCount?.();
        const [callsBefore, writtenBefore] = [calls.length, written.length];
        const issued = Array.from({ length: 100 }, (_, index) => challenges.issue(PROVIDER_IDS[index % PROVIDER_IDS.length]!));

        expect(new Set(issued.flatMap(({ state, nonce }) => [state, nonce])).size).toBe(200);
        expect(calls.slice(callsBefore)).toEqual([]);
        expect(written.length).toBe(writtenBefore);
        if (subject.keyCount) expect(await subject.keyCount()).toBe(keysBefore);
      });

      it("issues without asking the cache, and what it issued is usable later", async () => {
        const issued = await untouched(async () => challenges.issue("oidc"));
        expect(issued.state).toMatch(CHALLENGE_SHAPE);
        expect(issued.expiresAt).toEqual(new Date(now + STATE_TTL_MS));
        expect(await challenges.useState(issued.state, "oidc")).toMatchObject({ nonce: issued.nonce });
      });

      it("uses a state once, answering the nonce issued with it", async () => {
        const { state, nonce } = await challenges.issue("oidc");
        expect(await challenges.useState(state, "oidc")).toMatchObject({ nonce });
        expect(await challenges.useState(state, "oidc")).toBeUndefined();
      });

      it("uses a nonce once", async () => {
        const { nonce } = await challenges.issue("truecaller");
        expect(await challenges.useNonce(nonce, "truecaller")).toMatchObject({ nonce });
        expect(await challenges.useNonce(nonce, "truecaller")).toBeUndefined();
      });

      it("marks a used login under a digest for the rest of its lifetime, one mark for its state and nonce", async () => {
        const { state, nonce } = await challenges.issue("oidc");
        await pass(10_000);
        const before = written.length;
        expect(await challenges.useState(state, "oidc")).toBeDefined();
        expect(await challenges.useNonce(nonce, "oidc")).toBeUndefined();

        const entries = written.slice(before);
        expect(entries).toHaveLength(2);
        const { key, value, ttlMs } = entries[0]!;
        expect(key).toMatch(/^login-used:[A-Za-z0-9_-]{43}$/);
        expect(entries[1]!.key).toBe(key);
        expect(ttlMs).toBe(STATE_TTL_MS - 10_000);
        for (const secret of [state, nonce]) expect(`${key} ${value}`).not.toContain(secret);
      });

      it("gives one of many concurrent uses of a state its nonce", async () => {
        const { state, nonce } = await challenges.issue("wgtwo");
        const uses = await Promise.all(Array.from({ length: 10 }, () => challenges.useState(state, "wgtwo")));
        expect(uses.filter((use) => use !== undefined).map((use) => use.nonce)).toEqual([nonce]);
      });

      it("gives one of many concurrent uses of a login, by its state or by its nonce, the login", async () => {
        const { state, nonce } = await challenges.issue("truecaller");
        const uses = await Promise.all(
          Array.from({ length: 12 }, (_, index) => (index % 2 === 0 ? challenges.useState(state, "truecaller") : challenges.useNonce(nonce, "truecaller"))),
        );
        expect(uses.filter((use) => use !== undefined).map((use) => use.nonce)).toEqual([nonce]);
      });

      it("refuses a state or nonce presented for another provider without asking the cache, and leaves it to its own", async () => {
        const forOidc = await challenges.issue("oidc");
        expect(await untouched(() => challenges.useState(forOidc.state, "truecaller"))).toBeUndefined();
        expect(await untouched(() => challenges.useNonce(forOidc.nonce, "wgtwo"))).toBeUndefined();
        expect(await challenges.useState(forOidc.state, "oidc")).toMatchObject({ nonce: forOidc.nonce });

        const forTruecaller = await challenges.issue("truecaller");
        expect(await untouched(() => challenges.useNonce(forTruecaller.nonce, "oidc"))).toBeUndefined();
        expect(await untouched(() => challenges.useState(forTruecaller.state, "wgtwo"))).toBeUndefined();
        expect(await challenges.useNonce(forTruecaller.nonce, "truecaller")).toMatchObject({ nonce: forTruecaller.nonce });
      });

      it("refuses what it never issued without asking the cache, and does not take a state for a nonce or a nonce for a state", async () => {
        for (const unknown of [randomBytes(32).toString("base64url"), randomBytes(39).toString("base64url"), "", "not a state"]) {
          expect(await untouched(() => challenges.useState(unknown, "truecaller"))).toBeUndefined();
          expect(await untouched(() => challenges.useNonce(unknown, "truecaller"))).toBeUndefined();
        }

        const { state, nonce } = await challenges.issue("truecaller");
        expect(await untouched(() => challenges.useState(nonce, "truecaller"))).toBeUndefined();
        expect(await untouched(() => challenges.useNonce(state, "truecaller"))).toBeUndefined();
        expect(await challenges.useState(state, "truecaller")).toMatchObject({ nonce });
      });

      it("refuses a state or nonce with any one character changed, or spelled otherwise, without asking the cache", async () => {
        const { state, nonce } = await challenges.issue("wgtwo");
        for (let index = 0; index < state.length; index += 1) {
          expect(await untouched(() => challenges.useState(flipped(state, index), "wgtwo"))).toBeUndefined();
          expect(await untouched(() => challenges.useNonce(flipped(nonce, index), "wgtwo"))).toBeUndefined();
        }
        // Spellings Node's base64url decoder reads as the same bytes.
        const respellings = [`${state}=`, ` ${state}`, `${state}\n`, `${state.slice(0, 26)}.${state.slice(26)}`, state.replaceAll("-", "+").replaceAll("_", "/")];
        for (const respelled of respellings.filter((spelling) => spelling !== state)) {
          expect(await untouched(() => challenges.useState(respelled, "wgtwo"))).toBeUndefined();
        }
        expect(await challenges.useState(state, "wgtwo")).toMatchObject({ nonce });
      });

      it("refuses a state or nonce issued under another key without asking the cache", async () => {
        const otherKeyring = parseKeyring(`test:${randomBytes(32).toString("base64")}`)!;
        for (const hash of [new KeyedHash(otherKeyring, "login state"), new KeyedHash(keyring, "login replay")]) {
          const foreign = await new LoginChallenges(recordedCache, hash, STATE_TTL_MS, () => now).issue("truecaller");
          expect(await untouched(() => challenges.useState(foreign.state, "truecaller"))).toBeUndefined();
          expect(await untouched(() => challenges.useNonce(foreign.nonce, "truecaller"))).toBeUndefined();
        }
      });

      it("refuses an expired state or nonce without asking the cache", async () => {
        const { state, nonce } = await challenges.issue("oidc");
        await pass(STATE_TTL_MS);
        expect(await untouched(() => challenges.useState(state, "oidc"))).toBeUndefined();
        expect(await untouched(() => challenges.useNonce(nonce, "oidc"))).toBeUndefined();
      });

      it("burns the nonce when the state is used, and the state when the nonce is", async () => {
        const viaState = await challenges.issue("truecaller");
        expect(await challenges.useState(viaState.state, "truecaller")).toBeDefined();
        expect(await challenges.useNonce(viaState.nonce, "truecaller")).toBeUndefined();

        const viaNonce = await challenges.issue("truecaller");
        expect(await challenges.useNonce(viaNonce.nonce, "truecaller")).toBeDefined();
        expect(await challenges.useState(viaNonce.state, "truecaller")).toBeUndefined();
      });

      it("forgets a state and nonce after their time to live", async () => {
        const viaState = await challenges.issue("truecaller");
        const viaNonce = await challenges.issue("truecaller");
        await pass(STATE_TTL_MS - 1_000);
        const fresh = await challenges.issue("truecaller");
        await pass(1_100);
        expect(await challenges.useState(viaState.state, "truecaller")).toBeUndefined();
        expect(await challenges.useNonce(viaNonce.nonce, "truecaller")).toBeUndefined();
        expect(await challenges.useState(fresh.state, "truecaller")).toMatchObject({ nonce: fresh.nonce });
      });

      it("gives a used state back with its nonce, for the rest of its lifetime only", async () => {
        const { state, nonce } = await challenges.issue("oidc");
        await pass(STATE_TTL_MS - 10_000);
        await (await challenges.useState(state, "oidc"))!.restore();
        // Back as issued: the state is usable, and after another give-back its nonce (which uses the state up).
        const reused = await challenges.useState(state, "oidc");
        expect(reused).toMatchObject({ nonce });
        await reused!.restore();
        expect(await challenges.useNonce(nonce, "oidc")).toMatchObject({ nonce });
        expect(await challenges.useState(state, "oidc")).toBeUndefined();

        const again = await challenges.issue("oidc");
        await pass(STATE_TTL_MS - 10_000);
        await (await challenges.useState(again.state, "oidc"))!.restore();
        await pass(10_100);
        expect(await challenges.useState(again.state, "oidc")).toBeUndefined();
      });

      it("gives a used nonce back with its state", async () => {
        const { state, nonce } = await challenges.issue("truecaller");
        await (await challenges.useNonce(nonce, "truecaller"))!.restore();
        expect(await challenges.useState(state, "truecaller")).toMatchObject({ nonce });
        expect(await challenges.useNonce(nonce, "truecaller")).toBeUndefined();
      });

      it("gives back once per use: a second restore does not free a login another request has used since", async () => {
        const { state } = await challenges.issue("oidc");
        const first = await challenges.useState(state, "oidc");
        await first!.restore();
        expect(await challenges.useState(state, "oidc")).toBeDefined();
        await first!.restore();
        expect(await challenges.useState(state, "oidc")).toBeUndefined();
      });

      it("gives nothing back once the lifetime is over", async () => {
        const { state } = await challenges.issue("wgtwo");
        const used = await challenges.useState(state, "wgtwo");
        await pass(STATE_TTL_MS + 100);
        await untouched(() => used!.restore());
        expect(await challenges.useState(state, "wgtwo")).toBeUndefined();
      });
    });

    describe("LoginReplays", () => {
      const codeOf = () => `code-${randomUUID()}`;

      it("names a code by a keyed digest per provider, never by the code", () => {
        const code = codeOf();
        const key = replays.key("truecaller", code);
        expect(key).toMatch(/^login-replay:truecaller:[A-Za-z0-9_-]{43}$/);
        expect(key).not.toContain(code);
        expect(replays.key("truecaller", code)).toBe(key);
        expect(replays.key("oidc", code).split(":")[2]).not.toBe(key.split(":")[2]);
        expect(replays.key("truecaller", codeOf())).not.toBe(key);
        // Another deployment's keyring gives other digests.
        const elsewhere = new LoginReplays(subject.cache, new TokenCipher(keyring), new KeyedHash(parseKeyring(`test:${randomBytes(32).toString("base64")}`)!, "login replay"));
        expect(elsewhere.key("truecaller", code)).not.toBe(key);
      });

      it("binds the rest of a request: same parts, same binding; any difference, another", () => {
        const parts = ["verifier", "https://app.example/cb", "nonce", "state"] as const;
        const binding = replays.binding(...parts);
        expect(replays.binding(...parts)).toBe(binding);
        expect(binding).not.toContain("verifier");
        for (let index = 0; index < parts.length; index += 1) {
          const changed: Array<string | undefined> = [...parts];
          changed[index] = `${parts[index]}x`;
          expect(replays.binding(...changed)).not.toBe(binding);
          changed[index] = undefined;
          expect(replays.binding(...changed)).not.toBe(binding);
        }
        expect(replays.binding("a", "b")).not.toBe(replays.binding("ab"));
        expect(replays.binding("ab", undefined)).not.toBe(replays.binding("a", "b"));
        expect(replays.binding("v", undefined)).not.toBe(replays.binding("v", ""));
        expect(replays.binding("v", undefined, "n")).not.toBe(replays.binding("v", "n", undefined));
      });

      it("lets exactly one of many concurrent claims of a code win, and shows it pending", async () => {
        const key = replays.key("truecaller", codeOf());
        const binding = replays.binding("verifier");
        const claims = await Promise.all(Array.from({ length: 12 }, () => replays.claim(key, binding, CLAIM_TTL_MS)));
        expect(claims.filter(Boolean)).toHaveLength(1);
        expect(await replays.read(key)).toEqual({ status: "pending", binding });
      });

      it("reads back a verified exchange as it was kept, dates restored, and refuses further claims", async () => {
        const key = replays.key("oidc", codeOf());
        const binding = replays.binding("verifier", undefined, "nonce");
        const exchange = exchangeFor("+919812345678");
        expect(await replays.claim(key, binding, CLAIM_TTL_MS)).toBe(true);
        await replays.keep(key, { status: "verified", binding, exchange }, REPLAY_TTL_MS);

        const record = await replays.read(key);
        expect(record).toEqual({ status: "verified", binding, exchange });
        expect(record?.status === "verified" && record.exchange.access.expiresAt).toBeInstanceOf(Date);
        expect(await replays.claim(key, replays.binding("another verifier"), CLAIM_TTL_MS)).toBe(false);
      });

      it("reads back the tokens of an exchange whose profile is still to be read, and a consumed code", async () => {
        const exchanged = replays.key("truecaller", codeOf());
        const binding = replays.binding("verifier");
        const { access, refreshToken } = exchangeFor("+919800055566");
        const tokens = { access, refreshToken, idToken: { sub: "subject", nonce: "n" } };
        await replays.keep(exchanged, { status: "exchanged", binding, tokens, leaseUntil: 1_234, failed: true }, REPLAY_TTL_MS);
        const record = await replays.read(exchanged);
        expect(record).toEqual({ status: "exchanged", binding, tokens, leaseUntil: 1_234, failed: true });
        expect(record?.status === "exchanged" && record.tokens.access.expiresAt).toBeInstanceOf(Date);

        const consumed = replays.key("wgtwo", codeOf());
        await replays.keep(consumed, { status: "consumed", binding: replays.binding(undefined) }, REPLAY_TTL_MS);
        expect(await replays.read(consumed)).toEqual({ status: "consumed", binding: replays.binding(undefined) });
        expect(await replays.claim(consumed, replays.binding(undefined), CLAIM_TTL_MS)).toBe(false);
      });

      it("answers undefined for a code it never saw", async () => {
        expect(await replays.read(replays.key("truecaller", codeOf()))).toBeUndefined();
      });

      it("seals what it keeps: no code, verifier, token or number in any key or value", async () => {
        const before = written.length;
        const code = codeOf();
        const verifier = randomBytes(32).toString("base64url");
        const key = replays.key("truecaller", code);
        const binding = replays.binding(verifier);
        const exchange = exchangeFor("+919811122233");
        await replays.claim(key, binding, CLAIM_TTL_MS);
        await replays.keep(key, { status: "verified", binding, exchange }, REPLAY_TTL_MS);

        const entries = written.slice(before);
        expect(entries.map((entry) => entry.ttlMs)).toEqual([CLAIM_TTL_MS, REPLAY_TTL_MS]);
        for (const { key: writtenKey, value } of entries) {
          expect(value).toMatch(SEALED_SHAPE);
          for (const secret of [code, verifier, exchange.access.accessToken, exchange.refreshToken!, "919811122233", exchange.profile.subject]) {
            expect(`${writtenKey} ${value}`).not.toContain(secret);
          }
        }
      });

      it("opens a sealed record only under the key it was sealed for", async () => {
        const key = replays.key("truecaller", codeOf());
        const binding = replays.binding("verifier");
        await replays.keep(key, { status: "verified", binding, exchange: exchangeFor("+919800011122") }, REPLAY_TTL_MS);
        const sealed = await subject.cache.get(key);
        const elsewhere = replays.key("truecaller", codeOf());
        await subject.cache.set(elsewhere, sealed!, REPLAY_TTL_MS);
        expect(await replays.read(elsewhere)).toBeUndefined();
      });

      it("releases a claim, after which the code can be claimed again", async () => {
        const key = replays.key("wgtwo", codeOf());
        const binding = replays.binding("verifier");
        expect(await replays.claim(key, binding, CLAIM_TTL_MS)).toBe(true);
        await replays.release(key);
        expect(await replays.read(key)).toBeUndefined();
        expect(await replays.claim(key, replays.binding("another verifier"), CLAIM_TTL_MS)).toBe(true);
        await expect(replays.release(replays.key("wgtwo", codeOf()))).resolves.toBeUndefined();
      });

      it("forgets a claim and a verified exchange after their times to live", async () => {
        const claimed = replays.key("truecaller", codeOf());
        const verified = replays.key("truecaller", codeOf());
        const binding = replays.binding("verifier");
        await replays.claim(claimed, binding, CLAIM_TTL_MS);
        await replays.keep(verified, { status: "verified", binding, exchange: exchangeFor("+919800033344") }, REPLAY_TTL_MS);
        await pass(CLAIM_TTL_MS + 100);
        expect(await replays.read(claimed)).toBeUndefined();
        expect(await replays.read(verified)).toMatchObject({ status: "verified" });
        await pass(REPLAY_TTL_MS);
        expect(await replays.read(verified)).toBeUndefined();
      });
    });
  });
}

loginStoresContract("Redis", async () => {
  const prefix = `phonegate-test:${randomUUID()}:`;
  const redis = await connectRedis(TEST_REDIS_URL, prefix, captureLogs().logger);
  // KEYS takes a pattern, which ioredis does not prefix; the keys it returns carry the prefix.
  const keys = async () => (await redis.keys(`${prefix}*`)).map((key) => key.slice(prefix.length));
  return {
    cache: createRedisCache(redis),
    keyCount: async () => (await keys()).length,
    // Redis keeps real time; passing time is shortening what is left of each key's TTL.
    async elapse(ms) {
      for (const key of await keys()) {
        const remaining = await redis.pttl(key);
        if (remaining < 0) throw new Error(`${key} has no time to live`);
        if (remaining - ms > 0) await redis.pexpire(key, remaining - ms);
        else await redis.del(key);
      }
    },
    async close() {
      const left = await keys();
      if (left.length > 0) await redis.del(...left);
      await createRedisCache(redis).close();
    },
  };
});

loginStoresContract("in-process LRU", async () => {
  let now = 1_000_000;
  const cache = createMemoryCache({ now: () => now });
  return {
    cache,
    async elapse(ms) {
      now += ms;
    },
    close: () => cache.close(),
  };
});
