import { getCountryCallingCode, parsePhoneNumberFromString, type CountryCode, type PhoneNumber } from "libphonenumber-js/max";

/** A phone number in E.164 form with the region it belongs to. */
export interface NormalizedPhoneNumber {
  /** E.164, e.g. `+919876543210`. */
  readonly e164: string;
  /** ISO 3166-1 alpha-2 region, e.g. `IN`; absent for non-geographic numbers. */
  readonly countryCode: string | undefined;
}

const ISO_REGION = /^[A-Z]{2}$/;

/**
 * Normalises a number as providers send it — international digits without the
 * plus (Truecaller: `919876543210`) or E.164 (`+46123456789`) — to E.164, using
 * libphonenumber's metadata. Digits are never read as a national number: with a
 * region hint that disagrees with their prefix, that reading would be another,
 * real number, and users are keyed by number.
 *
 * The check is "possible number" (right length for the country), not "valid
 * number" (known ranges): the provider has already verified the line, and
 * metadata lagging behind a newly opened range must not lock a real user out.
 * Returns `undefined` when the value cannot be a phone number.
 */
export function normalizePhoneNumber(raw: string, regionHint?: string): NormalizedPhoneNumber | undefined {
  const compact = raw.replace(/[\s().-]/g, "");
  if (!/^\+?\d{4,20}$/.test(compact)) return undefined;
  const hint = regionHint !== undefined && ISO_REGION.test(regionHint.toUpperCase()) ? (regionHint.toUpperCase() as CountryCode) : undefined;

  const parsed = parsePhoneNumberFromString(compact.startsWith("+") ? compact : `+${compact}`);
  return parsed?.isPossible() ? { e164: parsed.number, countryCode: regionOf(parsed, hint) } : undefined;
}

/**
 * The number's region. Numbers outside known ranges of a calling code shared by
 * several regions (+44: GB, GG, JE, IM) have none of their own; then the
 * provider's hint (`phone_number_country_code`) decides when it belongs to that
 * calling code.
 */
function regionOf(parsed: PhoneNumber, hint: CountryCode | undefined): string | undefined {
  if (parsed.country) return parsed.country;
  if (hint && getCountryCallingCode(hint) === parsed.countryCallingCode) return hint;
  const candidates = parsed.getPossibleCountries();
  return candidates.length === 1 ? candidates[0] : undefined;
}
