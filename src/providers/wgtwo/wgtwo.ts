/**
 * wgtwo operator login ("Get user access token", developer.wgtwo.com): a
 * confidential client exchanging the code at `POST {base}/oauth2/token`
 * (form-encoded, HTTP Basic client authentication, PKCE verifier when the app
 * used one) and reading `GET {base}/userinfo`: `phone_number` in E.164,
 * `phone_number_verified`, a pairwise `sub` and `sid`. wgtwo runs Ory Hydra,
 * whose ID tokens (sent with the `openid` scope) are RS256, signed by the keys
 * at `{base}/.well-known/jwks.json`, with `aud` an array.
 */
import { createProviderHttp } from "../http.js";
import type { PhoneLoginProvider } from "../provider.js";
import { createIdTokenVerifier } from "../openid/id-token.js";
import { createOpenIdProvider, type OpenIdEndpoints } from "../openid/openid-client.js";
import type { Telemetry } from "../../telemetry/telemetry.js";

export interface WgtwoOptions {
  readonly clientId: string;
  readonly clientSecret: string;
  /** Default https://id.wgtwo.com. */
  readonly baseUrl: string;
  /** `iss` of wgtwo's ID tokens, trailing slash included: https://id.wgtwo.com/. */
  readonly issuer: string;
  /** The redirect URI registered for the client, used when the app sends none. */
  readonly redirectUri: string | undefined;
  readonly timeoutMs: number;
  readonly fetch?: typeof fetch;
  readonly telemetry?: Telemetry;
  readonly now?: () => Date;
}

export function createWgtwoProvider(options: WgtwoOptions): PhoneLoginProvider {
  // Endpoints are absolute URLs (no base URL for the client), as discovery would give them.
  const { timeoutMs, fetch, telemetry } = options;
  const http = createProviderHttp({ provider: "wgtwo", timeoutMs, ...(fetch ? { fetch } : {}), ...(telemetry ? { telemetry } : {}) });
  const endpoints: OpenIdEndpoints = {
    tokenEndpoint: `${options.baseUrl}/oauth2/token`,
    userinfoEndpoint: `${options.baseUrl}/userinfo`,
    idTokens: createIdTokenVerifier({
      issuer: options.issuer,
      clientId: options.clientId,
      jwksUri: `${options.baseUrl}/.well-known/jwks.json`,
      timeoutMs: options.timeoutMs,
      http,
      ...(options.now ? { now: options.now } : {}),
    }),
  };
  const found = Promise.resolve({ ok: true, value: endpoints } as const);
  return createOpenIdProvider({
    id: "wgtwo",
    clientId: options.clientId,
    authentication: { kind: "basic", secret: options.clientSecret },
    encoding: "form",
    idToken: "when-present",
    defaultRedirectUri: options.redirectUri,
    endpoints: () => found,
    http,
    now: options.now ?? (() => new Date()),
  });
}
