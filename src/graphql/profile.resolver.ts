import { Arg, Ctx, createUnionType, Field, Mutation, ObjectType, Resolver } from "type-graphql";
import type { ProfileRefreshOutcome } from "../auth/login-outcome.js";
import type { ProfileService } from "../auth/profile.service.js";
import { UnreachableCaseError } from "../unreachable.js";
import { requireAuthenticated, type GatewayContext } from "./context.js";
import type { ProviderId } from "../providers/provider.js";
import { LoginProvider } from "./provider.enums.js";
import { ProviderMisconfiguredError, ProviderUnavailableError, RateLimitedError, ReauthenticationRequiredError } from "./user-error.js";
import { User } from "./user.type.js";

@ObjectType({ description: "The provider's current profile is stored on the user." })
export class ProfileRefreshed {
  @Field(() => User)
  user!: User;
}

export const RefreshProfileResult = createUnionType({
  name: "RefreshProfileResult",
  description: "The refreshed user, or why the provider's profile could not be read.",
  types: () => [ProfileRefreshed, ReauthenticationRequiredError, ProviderMisconfiguredError, RateLimitedError, ProviderUnavailableError] as const,
});

/** Provider profile refresh for the signed-in user; all logic lives in {@link ProfileService}. */
@Resolver()
export class ProfileResolver {
  constructor(private readonly profiles: ProfileService) {}

  @Mutation(() => RefreshProfileResult, {
    description:
      "Re-reads the signed-in user's profile at a provider with the provider token kept from login (refreshed with the provider's " +
      "refresh token when it has expired) and stores it. Requires a Bearer access token.",
  })
  async refreshProfile(@Ctx() context: GatewayContext, @Arg("provider", () => LoginProvider) provider: ProviderId): Promise<typeof RefreshProfileResult> {
    const { user } = await requireAuthenticated(context);
    return toRefreshProfileResult(await this.profiles.refreshProfile(user, provider));
  }
}

function toRefreshProfileResult(outcome: ProfileRefreshOutcome): typeof RefreshProfileResult {
  switch (outcome.kind) {
    case "ProfileRefreshed":
      return Object.assign(new ProfileRefreshed(), { user: User.from(outcome.user) });
    case "ReauthenticationRequired":
      return new ReauthenticationRequiredError();
    case "ProviderMisconfigured":
      return new ProviderMisconfiguredError();
    case "RateLimited":
      return new RateLimitedError(outcome.retryAfterSeconds);
    case "ProviderUnavailable":
      return new ProviderUnavailableError(outcome.retryAfterSeconds);
    default:
      throw new UnreachableCaseError(outcome);
  }
}
