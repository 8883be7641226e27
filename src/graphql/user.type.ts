import { Directive, Field, ID, ObjectType } from "type-graphql";
import type { StoredUser } from "../auth/login-outcome.js";
import type { IdentityProviderId } from "../providers/provider.js";
import type { StoredIdentity } from "../store/user.repository.js";
import { IdentityProvider } from "./provider.enums.js";

@ObjectType({ description: "A provider account linked to the user because it proved the same verified phone number." })
export class Identity {
  @Field(() => IdentityProvider)
  provider!: IdentityProviderId;

  @Field(() => Date, { description: "When this provider account was linked to the user." })
  linkedAt!: Date;

  @Field(() => Date, { description: "The last login through it." })
  lastLoginAt!: Date;

  static from(stored: StoredIdentity): Identity {
    return Object.assign(new Identity(), stored);
  }
}

@ObjectType({ description: "Postal address parts the provider shared (Truecaller's `address` scope)." })
export class Address {
  @Field(() => String, { nullable: true })
  locality!: string | null;

  @Field(() => String, { nullable: true })
  postalCode!: string | null;
}

@Directive('@key(fields: "id")')
@ObjectType({ description: "A person, identified by one verified phone number. Other subgraphs extend it by `id`." })
export class User {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { description: "E.164, e.g. +919876543210." })
  phoneNumber!: string;

  @Field(() => Boolean)
  phoneNumberVerified!: boolean;

  @Field(() => String, { nullable: true, description: "ISO 3166-1 alpha-2 region of the phone number, e.g. IN." })
  countryCode!: string | null;

  @Field(() => String, { nullable: true })
  givenName!: string | null;

  @Field(() => String, { nullable: true })
  familyName!: string | null;

  @Field(() => String, { nullable: true })
  email!: string | null;

  @Field(() => String, { nullable: true, description: "URL of the profile picture." })
  picture!: string | null;

  @Field(() => String, { nullable: true })
  gender!: string | null;

  @Field(() => Address, { nullable: true, description: "Null when the provider shared no address." })
  address!: Address | null;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date)
  updatedAt!: Date;

  static from(stored: StoredUser): User {
    const { addressLocality, addressPostalCode, ...fields } = stored;
    const address =
      addressLocality === null && addressPostalCode === null
        ? null
        : Object.assign(new Address(), { locality: addressLocality, postalCode: addressPostalCode });
    return Object.assign(new User(), { ...fields, address });
  }
}
