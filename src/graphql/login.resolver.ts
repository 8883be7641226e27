import { Arg, Field, Mutation, ObjectType, Query, registerEnumType, Resolver } from "type-graphql";
import type { LoginService } from "../auth/login.service.js";
import type { ProviderId } from "../providers/provider.js";
import { LoginResult, toLoginResult } from "./login-result.union.js";

export enum LoginProvider {
  TRUECALLER = "truecaller",
}
/** Every provider id has its GraphQL name; the compiler enforces it. */
const LOGIN_PROVIDER_OF: Record<ProviderId, LoginProvider> = { truecaller: LoginProvider.TRUECALLER };

registerEnumType(LoginProvider, { name: "LoginProvider", description: "A phone-verified login provider." });

@ObjectType({ description: "A login provider this deployment is configured for." })
export class ProviderInfo {
  @Field(() => LoginProvider)
  id!: LoginProvider;
}

/** The login mutations; all logic lives in {@link LoginService}. */
@Resolver()
export class LoginResolver {
  constructor(private readonly logins: LoginService) {}

  @Query(() => [ProviderInfo], { description: "The providers users can log in with here." })
  providers(): ProviderInfo[] {
    return this.logins.configuredProviders().map((id) => Object.assign(new ProviderInfo(), { id: LOGIN_PROVIDER_OF[id] }));
  }

  @Mutation(() => LoginResult, {
    description:
      "Completes a Truecaller OAuth SDK 3.x login: exchanges the authorization code with the PKCE code verifier the app generated, " +
      "reads the profile and stores the user of the verified phone number.",
  })
  async verifyTruecaller(
    @Arg("code", () => String, { description: "Authorization code from the SDK's TcOAuthData callback." }) code: string,
    @Arg("verifier", () => String, { description: "The PKCE code verifier (RFC 7636) the app generated for this authorization." })
    verifier: string,
  ): Promise<typeof LoginResult> {
    return toLoginResult(await this.logins.verifyAuthorizationCode("truecaller", code, verifier));
  }
}
