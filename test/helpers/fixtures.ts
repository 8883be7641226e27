import { randomBytes, randomInt } from "node:crypto";
import { expect } from "vitest";

/** A fresh Indian mobile: digits with the country prefix, no plus ("919xxxxxxxxx"), as Truecaller sends it. */
export function freshIndianNumber(): string {
  return `919${String(randomInt(0, 1_000_000_000)).padStart(9, "0")}`;
}

/** A PKCE verifier the emulator did not generate (43 unreserved characters). */
export function otherVerifier(): string {
  return randomBytes(32).toString("base64url");
}

/** Asserts a LoginResult is a LoginSuccess and returns it as the shape the test reads. */
export function succeeded<T>(result: Record<string, unknown>): T {
  expect(result).toMatchObject({ __typename: "LoginSuccess" });
  return result as unknown as T;
}
