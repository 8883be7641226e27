import { Arg, Ctx, createUnionType, Field, Int, Mutation, ObjectType, Query, Resolver } from "type-graphql";
import type { RefreshOutcome, SessionService } from "../auth/session.service.js";
import { UnreachableCaseError } from "../unreachable.js";
import { requireAuthenticated, type GatewayContext } from "./context.js";
import { Session } from "./session.type.js";
import { InvalidRefreshTokenError } from "./user-error.js";
import { User } from "./user.type.js";

@ObjectType({ description: "The session continues with new tokens; the refresh token sent is used up." })
export class SessionRefreshed {
  @Field(() => Session)
  session!: Session;
}

export const RefreshSessionResult = createUnionType({
  name: "RefreshSessionResult",
  description: "New session tokens, or why there are none.",
  types: () => [SessionRefreshed, InvalidRefreshTokenError] as const,
});

@ObjectType({ description: "The sessions ended; their access and refresh tokens are rejected from now on." })
export class SignedOut {
  @Field(() => Int, { description: "How many sessions were still active and are now revoked." })
  revokedSessions!: number;
}

/** The signed-in user and the session lifecycle; all logic lives in {@link SessionService}. */
@Resolver()
export class SessionResolver {
  constructor(private readonly sessions: SessionService) {}

  @Query(() => User, {
    nullable: true,
    description: "The user of the Bearer access token; null without one. An invalid, expired or revoked token is an UNAUTHENTICATED error.",
  })
  async me(@Ctx() context: GatewayContext): Promise<User | null> {
    const authenticated = await context.authenticated();
    return authenticated ? User.from(authenticated.user) : null;
  }

  @Mutation(() => RefreshSessionResult, {
    description:
      "Trades a refresh token for new session tokens. Each refresh token works once; a duplicate sent within seconds gets the same " +
      "new refresh token (and an access token with the same claims), a later reuse ends the session.",
  })
  async refreshSession(@Arg("refreshToken", () => String) refreshToken: string): Promise<typeof RefreshSessionResult> {
    return toRefreshSessionResult(await this.sessions.refresh(refreshToken));
  }

  @Mutation(() => SignedOut, { description: "Ends the session of the Bearer access token, or every session of its user." })
  async signOut(
    @Ctx() context: GatewayContext,
    @Arg("allSessions", () => Boolean, { defaultValue: false, description: "End every session of the user, on every device." })
    allSessions: boolean,
  ): Promise<SignedOut> {
    const { user, sessionId } = await requireAuthenticated(context);
    const revokedSessions = await this.sessions.signOut({ userId: user.id, sessionId }, allSessions);
    return Object.assign(new SignedOut(), { revokedSessions });
  }
}

function toRefreshSessionResult(outcome: RefreshOutcome): typeof RefreshSessionResult {
  switch (outcome.kind) {
    case "SessionRefreshed":
      return Object.assign(new SessionRefreshed(), { session: Session.from(outcome.session) });
    case "InvalidRefreshToken":
      return new InvalidRefreshTokenError();
    default:
      throw new UnreachableCaseError(outcome);
  }
}
