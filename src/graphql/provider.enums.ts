import { registerEnumType } from "type-graphql";
import type { IdentityProviderId, ProviderId } from "../providers/provider.js";
import { IDENTITY_PROVIDER_DESCRIPTIONS, PROVIDER_DESCRIPTIONS } from "../providers/registry.js";

/**
 * A GraphQL enum whose values are the ids themselves, written in upper case
 * (`TRUECALLER` → "truecaller"): resolvers receive and return ids, no mapping
 * table to keep in step, and a provider added to the registry appears here.
 */
function registeredEnum<Id extends string>(name: string, description: string, descriptions: Readonly<Record<Id, string>>) {
  const ids = Object.keys(descriptions) as Id[];
  const values = Object.fromEntries(ids.map((id) => [id.toUpperCase(), id])) as { readonly [K in Id as Uppercase<K>]: K };
  registerEnumType(values, {
    name,
    description,
    valuesConfig: Object.fromEntries(ids.map((id) => [id.toUpperCase(), { description: descriptions[id] }])) as never,
  });
  return values;
}

export const LoginProvider = registeredEnum<ProviderId>("LoginProvider", "A phone-verified login provider with an authorization-code flow.", PROVIDER_DESCRIPTIONS);
export const IdentityProvider = registeredEnum<IdentityProviderId>("IdentityProvider", "Who proved the user's phone number.", IDENTITY_PROVIDER_DESCRIPTIONS);
