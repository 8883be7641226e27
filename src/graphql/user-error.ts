import { Field, Int, InterfaceType, ObjectType, registerEnumType } from "type-graphql";

export enum ErrorCode {
  INVALID_INPUT = "INVALID_INPUT",
  INVALID_CODE = "INVALID_CODE",
  INVALID_VERIFIER = "INVALID_VERIFIER",
  ACCESS_DENIED = "ACCESS_DENIED",
  PROVIDER_MISCONFIGURED = "PROVIDER_MISCONFIGURED",
  RATE_LIMITED = "RATE_LIMITED",
  PROVIDER_UNAVAILABLE = "PROVIDER_UNAVAILABLE",
  PROFILE_UNAVAILABLE = "PROFILE_UNAVAILABLE",
  PHONE_NOT_VERIFIED = "PHONE_NOT_VERIFIED",
  INVALID_REFRESH_TOKEN = "INVALID_REFRESH_TOKEN",
}

registerEnumType(ErrorCode, {
  name: "ErrorCode",
  description: "Why a login or session mutation did not succeed. Stable: clients switch on it; messages may change.",
  valuesConfig: {
    INVALID_INPUT: { description: "An argument breaks a rule checked before the provider is called." },
    INVALID_CODE: { description: "The authorization code is invalid, expired or already used." },
    INVALID_VERIFIER: { description: "The PKCE code verifier does not match the code's challenge." },
    ACCESS_DENIED: { description: "The user or the provider denied access." },
    PROVIDER_MISCONFIGURED: { description: "The provider rejected this gateway's client configuration; operators see details in the log." },
    RATE_LIMITED: { description: "Too many requests; retry after `retryAfterSeconds` when given." },
    PROVIDER_UNAVAILABLE: { description: "The provider failed, timed out or answered malformed data; retry later." },
    PROFILE_UNAVAILABLE: { description: "The provider did not return the user's profile." },
    PHONE_NOT_VERIFIED: { description: "The provider has not verified the phone number; nothing was stored." },
    INVALID_REFRESH_TOKEN: { description: "The refresh token is unknown, expired, already used, or its session has ended; sign in again." },
  },
});

@InterfaceType({ description: "An expected reason a mutation did not succeed." })
export abstract class UserError {
  @Field(() => ErrorCode)
  code: ErrorCode;

  @Field(() => String, { description: "For humans; never contains the submitted values." })
  message: string;

  protected constructor(code: ErrorCode, message: string) {
    this.code = code;
    this.message = message;
  }
}

@ObjectType({ implements: UserError })
export class InvalidInputError extends UserError {
  @Field(() => String, { description: "The argument that broke a rule." })
  field: string;

  constructor(field: string, problem: string) {
    super(ErrorCode.INVALID_INPUT, `${field} ${problem}.`);
    this.field = field;
  }
}

@ObjectType({ implements: UserError })
export class InvalidCodeError extends UserError {
  constructor() {
    super(ErrorCode.INVALID_CODE, "The authorization code is invalid, expired or already used; start the login again.");
  }
}

@ObjectType({ implements: UserError })
export class InvalidVerifierError extends UserError {
  constructor() {
    super(ErrorCode.INVALID_VERIFIER, "The code verifier does not match the code challenge of this authorization.");
  }
}

@ObjectType({ implements: UserError })
export class AccessDeniedError extends UserError {
  constructor() {
    super(ErrorCode.ACCESS_DENIED, "Access was denied by the user or the provider.");
  }
}

@ObjectType({ implements: UserError })
export class ProviderMisconfiguredError extends UserError {
  constructor() {
    super(ErrorCode.PROVIDER_MISCONFIGURED, "This login provider is not configured correctly on the server.");
  }
}

/** A failure that passes on how long to wait before retrying, when the provider said. */
@ObjectType({ implements: UserError })
abstract class RetryableUserError extends UserError {
  @Field(() => Int, { nullable: true, description: "Seconds to wait before retrying, when known." })
  retryAfterSeconds: number | null;

  protected constructor(code: ErrorCode, message: string, retryAfterSeconds: number | undefined) {
    super(code, message);
    this.retryAfterSeconds = retryAfterSeconds ?? null;
  }
}

@ObjectType({ implements: UserError })
export class RateLimitedError extends RetryableUserError {
  constructor(retryAfterSeconds: number | undefined) {
    super(ErrorCode.RATE_LIMITED, "Too many login attempts; retry later.", retryAfterSeconds);
  }
}

@ObjectType({ implements: UserError })
export class ProviderUnavailableError extends RetryableUserError {
  constructor(retryAfterSeconds: number | undefined) {
    super(ErrorCode.PROVIDER_UNAVAILABLE, "The login provider is unavailable; retry later.", retryAfterSeconds);
  }
}

@ObjectType({ implements: UserError })
export class ProfileUnavailableError extends UserError {
  constructor() {
    super(ErrorCode.PROFILE_UNAVAILABLE, "The login provider did not return the user's profile.");
  }
}

@ObjectType({ implements: UserError })
export class PhoneNotVerifiedError extends UserError {
  constructor() {
    super(ErrorCode.PHONE_NOT_VERIFIED, "The login provider has not verified this phone number; nothing was stored.");
  }
}

@ObjectType({ implements: UserError })
export class InvalidRefreshTokenError extends UserError {
  constructor() {
    super(ErrorCode.INVALID_REFRESH_TOKEN, "The refresh token is not valid any more; sign in again.");
  }
}
