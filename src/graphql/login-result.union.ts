import { createUnionType, Field, ObjectType } from "type-graphql";
import type { LoginOutcome } from "../auth/login-outcome.js";
import type { SignedProfileProblem } from "../providers/provider.js";
import { UnreachableCaseError } from "../unreachable.js";
import { Session } from "./session.type.js";
import { User } from "./user.type.js";
import {
  AccessDeniedError,
  InvalidCodeError,
  InvalidIdTokenError,
  InvalidInputError,
  InvalidSignedProfileError,
  InvalidStateError,
  ServiceUnavailableError,
  InvalidVerifierError,
  PhoneNotVerifiedError,
  ProfileUnavailableError,
  ProviderMisconfiguredError,
  ProviderUnavailableError,
  RateLimitedError,
  SignedProfileRejection,
} from "./user-error.js";

/** Every rejection reason has its GraphQL name; the compiler enforces it. */
const SIGNED_PROFILE_REJECTION: Record<SignedProfileProblem, SignedProfileRejection> = {
  Malformed: SignedProfileRejection.MALFORMED,
  UnsupportedAlgorithm: SignedProfileRejection.UNSUPPORTED_ALGORITHM,
  BadSignature: SignedProfileRejection.BAD_SIGNATURE,
  NonceMismatch: SignedProfileRejection.NONCE_MISMATCH,
  Expired: SignedProfileRejection.EXPIRED,
  Replayed: SignedProfileRejection.REPLAYED,
};

@ObjectType({ description: "The phone number is verified and the user stored." })
export class LoginSuccess {
  @Field(() => User)
  user!: User;

  @Field(() => Boolean, { description: "True only for the login that created the user." })
  isNewUser!: boolean;

  @Field(() => Session, { description: "A new session of the user." })
  session!: Session;
}

export const LoginResult = createUnionType({
  name: "LoginResult",
  description: "A successful login, or the one reason it failed.",
  types: () =>
    [
      LoginSuccess,
      InvalidInputError,
      InvalidCodeError,
      InvalidVerifierError,
      AccessDeniedError,
      ProviderMisconfiguredError,
      RateLimitedError,
      ProviderUnavailableError,
      ProfileUnavailableError,
      PhoneNotVerifiedError,
      InvalidIdTokenError,
      InvalidSignedProfileError,
      InvalidStateError,
      ServiceUnavailableError,
    ] as const,
});

/** Maps each login outcome to its one union member. */
export function toLoginResult(outcome: LoginOutcome): typeof LoginResult {
  switch (outcome.kind) {
    case "LoginSucceeded":
      return Object.assign(new LoginSuccess(), {
        user: User.from(outcome.user),
        isNewUser: outcome.isNewUser,
        session: Session.from(outcome.session),
      });
    case "InvalidInput":
      return new InvalidInputError(outcome.field, outcome.problem);
    case "InvalidCode":
      return new InvalidCodeError();
    case "InvalidVerifier":
      return new InvalidVerifierError();
    case "AccessDenied":
      return new AccessDeniedError();
    case "ProviderMisconfigured":
      return new ProviderMisconfiguredError();
    case "RateLimited":
      return new RateLimitedError(outcome.retryAfterSeconds);
    case "ProviderUnavailable":
      return new ProviderUnavailableError(outcome.retryAfterSeconds);
    case "ProfileUnavailable":
      return new ProfileUnavailableError();
    case "PhoneNotVerified":
      return new PhoneNotVerifiedError();
    case "InvalidIdToken":
      return new InvalidIdTokenError();
    case "InvalidSignedProfile":
      return new InvalidSignedProfileError(SIGNED_PROFILE_REJECTION[outcome.problem]);
    case "InvalidState":
      return new InvalidStateError();
    case "ServiceUnavailable":
      return new ServiceUnavailableError(outcome.retryAfterSeconds);
    default:
      throw new UnreachableCaseError(outcome);
  }
}
