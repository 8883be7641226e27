import { createHash, timingSafeEqual } from "node:crypto";
import DataLoader from "dataloader";
import { GraphQLError } from "graphql";
import type { Authenticated, Authentication, SessionService } from "../auth/session.service.js";
import type { UserDirectory } from "../auth/user-directory.js";
import type { StoredUser } from "../auth/login-outcome.js";
import type { ClientInfo } from "../auth/login-audit.js";
import type { StoredIdentity } from "../store/user.repository.js";
import { AuthErrorCode } from "./format-error.js";

/** RFC 6750 §2.1: `Bearer` (any case), one space run, a token68. */
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i;

/** What every resolver gets for one request. */
export interface GatewayContext {
  /**
   * The signed-in user of the request's Bearer token, checked once per
   * request: `undefined` without an Authorization header. A header that is
   * not a valid, unexpired, unrevoked Bearer token answers UNAUTHENTICATED.
   */
  authenticated(): Promise<Authenticated | undefined>;
  /** False when ROUTER_SECRET is set and this request did not carry it: no `_entities` then. */
  readonly fromRouter: boolean;
  /** Users by id, batched per request (the router asks for many entities at once). */
  readonly users: DataLoader<string, StoredUser | null>;
  /** The identities of users by user id, batched per request. */
  readonly identities: DataLoader<string, StoredIdentity[]>;
  /** Who sent the request, for the audit trail. */
  readonly client: ClientInfo;
}

export interface ContextDependencies {
  readonly sessions: SessionService;
  readonly directory: UserDirectory;
  readonly routerSecret: string | undefined;
}

/** Builds the per-request context from the request's headers. */
export function createContextFactory(deps: ContextDependencies) {
  const routerSecretDigest = deps.routerSecret === undefined ? undefined : digest(deps.routerSecret);
  // `ip` is Express's: the socket's address, or X-Forwarded-For's client behind a proxy trusted by TRUST_PROXY.
  return ({ req }: { req: { headers: Record<string, string | string[] | undefined>; ip?: string | undefined } }): Promise<GatewayContext> => {
    const authorization = req.headers.authorization;
    let authentication: Promise<Authentication | undefined> | undefined;
    const context: GatewayContext = {
      async authenticated() {
        authentication ??= authorization === undefined ? Promise.resolve(undefined) : authenticate(deps.sessions, authorization);
        const outcome = await authentication;
        if (outcome === undefined) return undefined;
        if (outcome.kind === "Unauthenticated") throw unauthenticated(outcome.reason);
        return outcome;
      },
      fromRouter: routerSecretDigest === undefined || presented(req.headers["router-secret"], routerSecretDigest),
      users: new DataLoader((ids: readonly string[]) => deps.directory.findByIds(ids)),
      identities: new DataLoader((ids: readonly string[]) => deps.directory.identitiesOf(ids)),
      client: { ip: req.ip, userAgent: typeof req.headers["user-agent"] === "string" ? req.headers["user-agent"] : undefined },
    };
    return Promise.resolve(context);
  };
}

function authenticate(sessions: SessionService, authorization: string | string[]): Promise<Authentication> {
  const token = typeof authorization === "string" ? BEARER.exec(authorization)?.[1] : undefined;
  return token === undefined ? Promise.resolve({ kind: "Unauthenticated", reason: "invalid" }) : sessions.authenticate(token);
}

const UNAUTHENTICATED_MESSAGES: Record<Extract<Authentication, { kind: "Unauthenticated" }>["reason"], string> = {
  invalid: "The access token is not valid.",
  expired: "The access token has expired; refresh the session.",
  revoked: "The session of this access token has ended; sign in again.",
};

function unauthenticated(reason: keyof typeof UNAUTHENTICATED_MESSAGES): GraphQLError {
  return new GraphQLError(UNAUTHENTICATED_MESSAGES[reason], { extensions: { code: AuthErrorCode.UNAUTHENTICATED } });
}

/** Signed-in user required: throws UNAUTHENTICATED without a credential too. */
export async function requireAuthenticated(context: GatewayContext): Promise<Authenticated> {
  const authenticated = await context.authenticated();
  if (!authenticated) throw new GraphQLError("Sign in first: send Authorization: Bearer <accessToken>.", { extensions: { code: AuthErrorCode.UNAUTHENTICATED } });
  return authenticated;
}

/** Digests compare in constant time whatever the lengths; the secret never sits in a comparison. */
function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

function presented(header: string | string[] | undefined, expected: Buffer): boolean {
  return typeof header === "string" && timingSafeEqual(digest(header), expected);
}
