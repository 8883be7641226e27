import { GraphQLError } from "graphql";
import { Arg, Ctx, Field, InputType, Mutation, ObjectType, Query, Resolver } from "type-graphql";
import type { LoginOutcome } from "../auth/login-outcome.js";
import type { LoginService } from "../auth/login.service.js";
import type { ProviderId } from "../providers/provider.js";
import type { GatewayContext } from "./context.js";
import { LoginResult, toLoginResult } from "./login-result.union.js";
import { LoginProvider } from "./provider.enums.js";
import { RateLimitedError } from "./user-error.js";
import { UnreachableCaseError } from "../unreachable.js";

@ObjectType({ description: "A login provider this deployment is configured for." })
export class ProviderInfo {
  @Field(() => LoginProvider)
  id!: ProviderId;
}

@InputType({ description: "What the app got from a provider's authorization-code flow." })
export class PhoneLoginInput {
  @Field(() => LoginProvider)
  provider!: ProviderId;

  @Field(() => String, { description: "The authorization code." })
  code!: string;

  @Field(() => String, { nullable: true, description: "The PKCE code verifier (RFC 7636); required by TRUECALLER and OIDC." })
  verifier?: string | null;

  @Field(() => String, {
    nullable: true,
    description: "The redirect URI of the authorization request; defaults to the provider's configured one (TRUECALLER takes none).",
  })
  redirectUri?: string | null;

  @Field(() => String, { nullable: true, description: "The nonce of the authorization request; the provider's ID token must carry it." })
  nonce?: string | null;

  @Field(() => String, {
    nullable: true,
    description: "The state from startLogin, as the provider sent it back (required when the server sets REQUIRE_LOGIN_STATE).",
  })
  state?: string | null;
}

@ObjectType({ description: "One authorization request's state and nonce, issued by this gateway and good for one login." })
export class LoginChallenge {
  @Field(() => String, { description: "Send it as the authorization request's `state` and back with the code." })
  state!: string;

  @Field(() => String, { description: "Send it as the authorization request's `nonce` (OIDC, wgtwo) or as Truecaller's `requestNonce`." })
  nonce!: string;

  @Field(() => Date)
  expiresAt!: Date;
}

/** The login mutations; all logic lives in {@link LoginService}. */
@Resolver()
export class LoginResolver {
  constructor(private readonly logins: LoginService) {}

  @Query(() => [ProviderInfo], { description: "The providers users can log in with here." })
  providers(): ProviderInfo[] {
    return this.logins.configuredProviders().map((id) => Object.assign(new ProviderInfo(), { id }));
  }

  @Mutation(() => LoginChallenge, {
    description:
      "Starts a login: a state and a nonce to send with the provider's authorization request, checked when the code comes back. " +
      "Refused with a GraphQL error whose extensions carry code RATE_LIMITED and retryAfterSeconds.",
  })
  async startLogin(@Ctx() context: GatewayContext, @Arg("provider", () => LoginProvider) provider: ProviderId): Promise<LoginChallenge> {
    const outcome = await this.logins.startLogin(provider, context.client);
    switch (outcome.kind) {
      case "Issued":
        return Object.assign(new LoginChallenge(), outcome.challenge);
      // The field is a LoginChallenge (as clients were promised), so a refusal is a GraphQL error with the union's code.
      case "RateLimited":
        throw retryableError(new RateLimitedError(outcome.retryAfterSeconds));
      default:
        throw new UnreachableCaseError(outcome);
    }
  }

  @Mutation(() => LoginResult, {
    description:
      "Completes a Truecaller OAuth SDK 3.x login: exchanges the authorization code with the PKCE code verifier the app generated, " +
      "reads the profile and stores the user of the verified phone number.",
  })
  async verifyTruecaller(
    @Ctx() context: GatewayContext,
    @Arg("code", () => String, { description: "Authorization code from the SDK's TcOAuthData callback." }) code: string,
    @Arg("verifier", () => String, { description: "The PKCE code verifier (RFC 7636) the app generated for this authorization." })
    verifier: string,
    @Arg("state", () => String, { nullable: true, description: "The state from startLogin that the SDK returned with the code." })
    state: string | null,
  ): Promise<typeof LoginResult> {
    return answered(
      context,
      await this.logins.verifyAuthorizationCode(
        "truecaller",
        { code, verifier, redirectUri: undefined, nonce: undefined, state: state ?? undefined },
        context.client,
      ),
    );
  }

  @Mutation(() => LoginResult, {
    description:
      "Completes an authorization-code login with any configured provider: exchanges the code, validates the ID token where the provider " +
      "issues one, reads the profile and stores the user of the verified phone number, linking this provider account to it.",
  })
  async verifyPhoneLogin(@Ctx() context: GatewayContext, @Arg("input", () => PhoneLoginInput) input: PhoneLoginInput): Promise<typeof LoginResult> {
    return answered(
      context,
      await this.logins.verifyAuthorizationCode(
        input.provider,
        {
          code: input.code,
          verifier: input.verifier ?? undefined,
          redirectUri: input.redirectUri ?? undefined,
          nonce: input.nonce ?? undefined,
          state: input.state ?? undefined,
        },
        context.client,
      ),
    );
  }

  @Mutation(() => LoginResult, {
    description:
      "Completes Truecaller's verification of a user without the Truecaller app (drop call or OTP, Indian numbers): reads the number " +
      "Truecaller verified for the SDK's access token. The names are what the user typed into the app.",
  })
  async verifyTruecallerAccessToken(
    @Ctx() context: GatewayContext,
    @Arg("accessToken", () => String, { description: "The access token from the SDK's verification callback." }) accessToken: string,
    @Arg("firstName", () => String, { nullable: true, description: "The first name the user typed into the app." }) firstName: string | null,
    @Arg("lastName", () => String, { nullable: true, description: "The last name the user typed into the app." }) lastName: string | null,
  ): Promise<typeof LoginResult> {
    return answered(
      context,
      await this.logins.verifyTruecallerAccessToken({ accessToken, firstName: firstName ?? undefined, lastName: lastName ?? undefined }, context.client),
    );
  }

  @Mutation(() => LoginResult, {
    description:
      "Logs in with a Truecaller-signed profile (Android SDK 2.x TrueProfile, iOS SDK): verifies the signature with Truecaller's public " +
      "keys, the request nonce and the payload's age. Each payload logs in once.",
  })
  async verifyTruecallerSignedProfile(
    @Ctx() context: GatewayContext,
    @Arg("payload", () => String, { description: "The profile's `payload` (base64), exactly as the SDK gave it." }) payload: string,
    @Arg("signature", () => String, { description: "The profile's `signature` (base64)." }) signature: string,
    @Arg("signatureAlgorithm", () => String, { nullable: true, description: "The profile's `signatureAlgorithm`; SHA512withRSA when absent." })
    signatureAlgorithm: string | null,
    @Arg("requestNonce", () => String, { description: "The nonce the app gave the SDK for this request." }) requestNonce: string,
  ): Promise<typeof LoginResult> {
    return answered(
      context,
      await this.logins.verifyTruecallerSignedProfile(
        { payload, signature, signatureAlgorithm: signatureAlgorithm ?? undefined, requestNonce },
        context.client,
      ),
    );
  }
}

/** A refusal as a GraphQL error: the UserError's code, message and wait in `extensions`. */
function retryableError(refusal: RateLimitedError): GraphQLError {
  return new GraphQLError(refusal.message, { extensions: { code: refusal.code, retryAfterSeconds: refusal.retryAfterSeconds } });
}

/** The union member of `outcome`; a login's identities, read with it, answer the User.identities field. */
function answered(context: GatewayContext, outcome: LoginOutcome): typeof LoginResult {
  if (outcome.kind === "LoginSucceeded") context.identities.clear(outcome.user.id).prime(outcome.user.id, outcome.identities);
  return toLoginResult(outcome);
}
