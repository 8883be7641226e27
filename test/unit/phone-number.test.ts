import { describe, expect, it } from "vitest";
import { normalizePhoneNumber } from "../../src/providers/phone-number.js";

describe("normalizePhoneNumber", () => {
  it.each([
    ["Truecaller digits with country prefix", "919876543210", "IN", "+919876543210", "IN"],
    ["E.164 as wgtwo sends it", "+46123456789", undefined, "+46123456789", "SE"],
    ["E.164 with a contradicting hint keeps the number's own region", "+919876543210", "US", "+919876543210", "IN"],
    ["lower-case region hint", "919876543210", "in", "+919876543210", "IN"],
    ["digits are international even when the hint disagrees (never another real number)", "6591234567", "IN", "+6591234567", "SG"],
    ["NANP number resolves to Canada by area code", "16135550123", "CA", "+16135550123", "CA"],
    ["NANP number resolves to the US", "14155552671", undefined, "+14155552671", "US"],
    ["formatting characters are ignored", "+44 (20) 7946-0000", undefined, "+442079460000", "GB"],
    ["a number outside known ranges takes the hint of its calling code", "447700900123", "GB", "+447700900123", "GB"],
    ["a hint of another calling code is ignored", "447700900123", "IN", "+447700900123", undefined],
    ["a number outside known ranges of a shared calling code has no region without a hint", "+447700900123", undefined, "+447700900123", undefined],
  ])("%s", (_name, raw, hint, e164, countryCode) => {
    expect(normalizePhoneNumber(raw, hint)).toEqual({ e164, countryCode });
  });

  it("gives non-geographic numbers no region", () => {
    expect(normalizePhoneNumber("+80012345678")).toEqual({ e164: "+80012345678", countryCode: undefined });
  });

  it.each([
    ["letters", "not-a-number"],
    ["too short for its country", "91987"],
    ["empty", ""],
    ["a plus in the middle", "91+9876543210"],
    ["too long for any country", "91987654321098765"],
  ])("rejects %s", (_name, raw) => {
    expect(normalizePhoneNumber(raw, "IN")).toBeUndefined();
  });
});
