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
  INVALID_ID_TOKEN = "INVALID_ID_TOKEN",
  INVALID_SIGNED_PROFILE = "INVALID_SIGNED_PROFILE",
  REAUTHENTICATION_REQUIRED = "REAUTHENTICATION_REQUIRED",
  INVALID_STATE = "INVALID_STATE",
  SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE",
}

registerEnumType(ErrorCode, {
  name: "ErrorCode",
  description: "Why a login or session mutation did not succeed. Stable: clients switch on it; messages may change.",
  valuesConfig: {
    INVALID_INPUT: { description: "An argument breaks a rule checked before the provider is called." },
    INVALID_CODE: { description: "The authorization code is invalid, expired or already used." },
    INVALID_VERIFIER: { description: "The PKCE code verifier does not match the code's challenge." },
    ACCESS_DENIED: { description: "The user or the provider denied access." },
    PROVIDER_MISCONFIGURED: {
      description: "The provider is not configured on this gateway, or rejected its client configuration; operators see details in the log.",
    },
    RATE_LIMITED: { description: "Too many requests; retry after `retryAfterSeconds` when given." },
    PROVIDER_UNAVAILABLE: { description: "The provider failed, timed out or answered malformed data; retry later." },
    PROFILE_UNAVAILABLE: { description: "The provider did not return the user's profile." },
    PHONE_NOT_VERIFIED: { description: "The provider has not verified the phone number; nothing was stored." },
    INVALID_REFRESH_TOKEN: { description: "The refresh token is unknown, expired, already used, or its session has ended; sign in again." },
    INVALID_ID_TOKEN: {
      description: "The provider's ID token failed validation (signature, issuer, audience, expiry or nonce) or names another subject; nothing was stored.",
    },
    INVALID_SIGNED_PROFILE: { description: "The Truecaller-signed profile was not accepted; `reason` says why. Nothing was stored." },
    INVALID_STATE: {
      description: "The state (or Truecaller requestNonce) was not issued by startLogin for this provider, is used up or expired; nothing was sent to the provider.",
    },
    SERVICE_UNAVAILABLE: {
      description: "The gateway's database is unavailable; retry the same request after `retryAfterSeconds` (what the provider answered is kept).",
    },
    REAUTHENTICATION_REQUIRED: {
      description: "The gateway holds no usable token of this provider for the user, or the provider no longer vouches for the number: log in with it again.",
    },
  },
});

export enum SignedProfileRejection {
  MALFORMED = "MALFORMED",
  UNSUPPORTED_ALGORITHM = "UNSUPPORTED_ALGORITHM",
  BAD_SIGNATURE = "BAD_SIGNATURE",
  NONCE_MISMATCH = "NONCE_MISMATCH",
  EXPIRED = "EXPIRED",
  REPLAYED = "REPLAYED",
}

registerEnumType(SignedProfileRejection, {
  name: "SignedProfileRejection",
  description: "Why a Truecaller-signed profile was not accepted.",
  valuesConfig: {
    MALFORMED: { description: "The payload is not base64 of a Truecaller profile with a phone number and request time." },
    UNSUPPORTED_ALGORITHM: { description: "`signatureAlgorithm` names an algorithm Truecaller does not use." },
    BAD_SIGNATURE: { description: "No Truecaller public key verifies the signature over the payload." },
    NONCE_MISMATCH: { description: "The payload's requestNonce is not the `requestNonce` sent." },
    EXPIRED: { description: "The payload's requestTime is older than TRUECALLER_PAYLOAD_MAX_AGE_S (or in the future)." },
    REPLAYED: { description: "This payload has already been used to log in." },
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
    super(ErrorCode.RATE_LIMITED, "Too many requests; retry later.", retryAfterSeconds);
  }
}

@ObjectType({ implements: UserError })
export class ProviderUnavailableError extends RetryableUserError {
  constructor(retryAfterSeconds: number | undefined) {
    super(ErrorCode.PROVIDER_UNAVAILABLE, "The login provider is unavailable; retry later.", retryAfterSeconds);
  }
}

@ObjectType({ implements: UserError })
export class ServiceUnavailableError extends RetryableUserError {
  constructor(retryAfterSeconds: number) {
    super(ErrorCode.SERVICE_UNAVAILABLE, "The service is temporarily unavailable; retry the same request shortly.", retryAfterSeconds);
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

@ObjectType({ implements: UserError })
export class InvalidIdTokenError extends UserError {
  constructor() {
    super(ErrorCode.INVALID_ID_TOKEN, "The provider's ID token is not valid for this login; start the login again.");
  }
}

@ObjectType({ implements: UserError })
export class InvalidSignedProfileError extends UserError {
  @Field(() => SignedProfileRejection)
  reason: SignedProfileRejection;

  constructor(reason: SignedProfileRejection) {
    super(ErrorCode.INVALID_SIGNED_PROFILE, "The signed profile was not accepted; request a new one from the Truecaller SDK.");
    this.reason = reason;
  }
}

@ObjectType({ implements: UserError })
export class ReauthenticationRequiredError extends UserError {
  constructor() {
    super(ErrorCode.REAUTHENTICATION_REQUIRED, "Log in with this provider again to refresh the profile.");
  }
}

@ObjectType({ implements: UserError })
export class InvalidStateError extends UserError {
  constructor() {
    super(ErrorCode.INVALID_STATE, "The login state is unknown, used or expired; call startLogin and begin again.");
  }
}
