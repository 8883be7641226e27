/**
 * LoginChallenges' token format and its behaviour when the cache fails; what it keeps, and its races,
 * are in the login stores contract test (test/integration/login-stores.contract.test.ts).
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { KeyedHash } from "../../src/store/keyed-hash.js";
import { LoginChallenges } from "../../src/store/login-challenges.js";
import type { EncryptionKey } from "../../src/store/token-cipher.js";
import { createMemoryCache, type TtlCache } from "../../src/store/ttl-cache.js";

const TTL_MS = 600_000;
const START = Date.UTC(2030, 0, 1);
const keyring: [EncryptionKey] = [{ id: "test", key: randomBytes(32) }];

/** A cache whose every call rejects, as Redis' do while it is away. */
function unreachableCache(): TtlCache {
  const down = () => Promise.reject(new Error("cache unreachable"));
  return { kind: "redis", set: down, get: down, setIfAbsent: down, delete: down, take: down, ping: down, close: down };
}

function challengesOn(cache: TtlCache, clock: { now: number }) {
  return new LoginChallenges(cache, new KeyedHash(keyring, "login state"), TTL_MS, () => clock.now);
}

describe("LoginChallenges tokens", () => {
  it("are version 1, expiry in epoch ms, a 128-bit login id shared by state and nonce, and a 128-bit MAC of their own", () => {
    const clock = { now: START };
    const { state, nonce, expiresAt } = challengesOn(createMemoryCache(), clock).issue("truecaller");
    const [stateBytes, nonceBytes] = [Buffer.from(state, "base64url"), Buffer.from(nonce, "base64url")];

    expect([state.length, nonce.length]).toEqual([52, 52]);
    expect([stateBytes.length, nonceBytes.length]).toEqual([39, 39]);
    expect(stateBytes[0]).toBe(1);
    expect(stateBytes.readUIntBE(1, 6)).toBe(START + TTL_MS);
    expect(expiresAt).toEqual(new Date(START + TTL_MS));
    expect(nonceBytes.subarray(0, 23)).toEqual(stateBytes.subarray(0, 23));
    expect(nonceBytes.subarray(23)).not.toEqual(stateBytes.subarray(23));
  });

  it("are refused with an expiry moved, even to later, or a login id taken from another", async () => {
    const clock = { now: START };
    const challenges = challengesOn(unreachableCache(), clock);
    const { state } = challenges.issue("oidc");
    const other = Buffer.from(challenges.issue("oidc").state, "base64url");
    const later = Buffer.from(state, "base64url");
    later.writeUIntBE(START + TTL_MS * 10, 1, 6);
    const spliced = Buffer.from(state, "base64url");
    other.copy(spliced, 7, 7, 23);

    for (const forged of [later, spliced]) expect(await challenges.useState(forged.toString("base64url"), "oidc")).toBeUndefined();
  });

  it("last to the millisecond before their expiry, and no longer", async () => {
    const clock = { now: START };
    const challenges = challengesOn(createMemoryCache({ now: () => clock.now }), clock);
    const first = challenges.issue("wgtwo");
    const second = challenges.issue("wgtwo");
    clock.now = START + TTL_MS - 1;
    expect(await challenges.useState(first.state, "wgtwo")).toMatchObject({ nonce: first.nonce });
    clock.now = START + TTL_MS;
    expect(await challenges.useState(second.state, "wgtwo")).toBeUndefined();
  });
});

describe("LoginChallenges while the cache is away", () => {
  it("still issues, and what it issued then is usable once the cache is back", async () => {
    const clock = { now: START };
    const offline = challengesOn(unreachableCache(), clock);
    const minted = offline.issue("truecaller");
    const online = challengesOn(createMemoryCache(), clock);
    expect(await online.useNonce(minted.nonce, "truecaller")).toMatchObject({ nonce: minted.nonce });
  });

  it("refuses forged, altered, expired and other providers' states and nonces without failing", async () => {
    const clock = { now: START };
    const challenges = challengesOn(unreachableCache(), clock);
    const { state, nonce } = challenges.issue("truecaller");
    const foreign = new LoginChallenges(unreachableCache(), new KeyedHash([{ id: "x", key: randomBytes(32) }], "login state"), TTL_MS, () => clock.now).issue("truecaller");

    expect(await challenges.useState(state, "oidc")).toBeUndefined();
    expect(await challenges.useNonce(nonce, "wgtwo")).toBeUndefined();
    expect(await challenges.useState(`${state.slice(0, -1)}${state.endsWith("A") ? "B" : "A"}`, "truecaller")).toBeUndefined();
    expect(await challenges.useState(foreign.state, "truecaller")).toBeUndefined();
    expect(await challenges.useNonce(foreign.nonce, "truecaller")).toBeUndefined();
    clock.now += TTL_MS;
    expect(await challenges.useState(state, "truecaller")).toBeUndefined();
  });

  it("fails using a genuine state or nonce, and giving one back, so the caller decides", async () => {
    const clock = { now: START };
    const { state, nonce } = challengesOn(createMemoryCache(), clock).issue("oidc");
    const offline = challengesOn(unreachableCache(), clock);
    await expect(offline.useState(state, "oidc")).rejects.toThrow("cache unreachable");
    await expect(offline.useNonce(nonce, "oidc")).rejects.toThrow("cache unreachable");

    // Used while the cache answered, given back after it went.
    const cache = createMemoryCache();
    let reachable = true;
    const flaky: TtlCache = { ...cache, delete: (key) => (reachable ? cache.delete(key) : Promise.reject(new Error("cache unreachable"))) };
    const used = await challengesOn(flaky, clock).useState(state, "oidc");
    reachable = false;
    await expect(used!.restore()).rejects.toThrow("cache unreachable");
  });
});
