/**
 * `npm run signing-key`: prints a new value for SESSION_SIGNING_KEYS (one ES256 key).
 * `npm run signing-key -- --rotate`: prints the keys of the current SESSION_SIGNING_KEYS with a
 * new key in front of them, ready for the first step of a rotation (see README, "Sessions").
 */
import { generateSigningKeySetText, parseSigningKeys } from "./auth/signing-keys.js";

const USAGE = "usage: npm run signing-key [-- --rotate]   (--rotate reads the current keys from SESSION_SIGNING_KEYS)";

function main(args: string[]): number {
  if (args.length > 1 || (args.length === 1 && args[0] !== "--rotate")) {
    console.error(USAGE);
    return 2;
  }
  const fresh = JSON.parse(generateSigningKeySetText()) as { keys: unknown[] };
  if (args[0] !== "--rotate") {
    console.log(JSON.stringify(fresh));
    return 0;
  }
  const current = process.env.SESSION_SIGNING_KEYS?.trim() ?? "";
  const parsed = parseSigningKeys(current);
  if (!parsed.ok) {
    console.error(current === "" ? "SESSION_SIGNING_KEYS is not set" : `SESSION_SIGNING_KEYS ${parsed.problem}`);
    return 1;
  }
  console.log(JSON.stringify({ keys: [...fresh.keys, ...(JSON.parse(current) as { keys: unknown[] }).keys] }));
  return 0;
}

process.exitCode = main(process.argv.slice(2));
