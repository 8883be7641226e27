/**
 * `npm run signing-key`: prints SESSION_SIGNING_KEYS values. Alone, a new set of one ES256 key.
 * The other modes read the current SESSION_SIGNING_KEYS and print it changed, one rotation step each
 * (README, "Rotating the signing key"):
 *   --add           a new key appended: published and trusted everywhere, not signing yet
 *   --promote <kid> that key moved first: it signs from now on
 *   --retire <kid>  that key removed, once no unexpired token carries it
 */
import { generateSigningKeySetText, parseSigningKeys } from "./auth/signing-keys.js";

const USAGE = "usage: npm run signing-key [-- --add | --promote <kid> | --retire <kid>]   (these read SESSION_SIGNING_KEYS)";

type Jwk = { kid: string } & Record<string, unknown>;

function main(args: string[]): number {
  const [mode, kid, ...rest] = args;
  const fresh = (JSON.parse(generateSigningKeySetText()) as { keys: Jwk[] }).keys;
  if (mode === undefined) return print(fresh);
  const wantsKid = mode === "--promote" || mode === "--retire";
  if (rest.length > 0 || !(mode === "--add" || wantsKid) || (wantsKid ? kid === undefined : kid !== undefined)) return usage();

  const current = process.env.SESSION_SIGNING_KEYS?.trim() ?? "";
  const parsed = parseSigningKeys(current);
  if (!parsed.ok) return fail(current === "" ? "SESSION_SIGNING_KEYS is not set" : `SESSION_SIGNING_KEYS ${parsed.problem}`);
  const keys = (JSON.parse(current) as { keys: Jwk[] }).keys;
  if (mode === "--add") return print([...keys, ...fresh]);

  const named = keys.find((key) => key.kid === kid);
  if (!named) return fail(`SESSION_SIGNING_KEYS has no key with kid ${kid}`);
  const others = keys.filter((key) => key !== named);
  const signing = keys[0] === named;
  if (mode === "--promote") return signing ? fail(`${kid} already signs`) : print([named, ...others]);
  // Retiring the signing key would make a key sign that may not be published everywhere yet.
  if (signing) return fail(others.length === 0 ? `${kid} is the only key; --add another and promote it first` : `${kid} signs; promote another key first`);
  return print(others);
}

function print(keys: Jwk[]): number {
  console.log(JSON.stringify({ keys }));
  return 0;
}

function usage(): number {
  console.error(USAGE);
  return 2;
}

function fail(message: string): number {
  console.error(message);
  return 1;
}

process.exitCode = main(process.argv.slice(2));
