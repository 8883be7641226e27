import { Field, ObjectType } from "type-graphql";
import type { IssuedSession } from "../auth/session.service.js";

@ObjectType({ description: "The tokens of a signed-in session. Send `accessToken` as `Authorization: Bearer <accessToken>`." })
export class Session {
  @Field(() => String, {
    description: "A JWT (ES256 or EdDSA) verifiable with the keys at /.well-known/jwks.json; claims sub, sid, phone_number.",
  })
  accessToken!: string;

  @Field(() => String, { description: 'Always "Bearer".' })
  tokenType!: string;

  @Field(() => Date, { description: "When the access token expires; refresh before then." })
  expiresAt!: Date;

  @Field(() => String, { description: "Opaque and single-use: `refreshSession` returns its replacement. Store it securely." })
  refreshToken!: string;

  @Field(() => Date)
  refreshTokenExpiresAt!: Date;

  static from(issued: IssuedSession): Session {
    return Object.assign(new Session(), { ...issued, tokenType: "Bearer" });
  }
}
