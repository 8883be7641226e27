import { Ctx, FieldResolver, Resolver, Root } from "type-graphql";
import type { GatewayContext } from "./context.js";
import { Identity, User } from "./user.type.js";

/** Fields of `User` read beside the user row, batched per request. */
@Resolver(() => User)
export class UserResolver {
  @FieldResolver(() => [Identity], { description: "The provider accounts that proved this user's phone number, oldest link first." })
  async identities(@Root() user: User, @Ctx() context: GatewayContext): Promise<Identity[]> {
    return (await context.identities.load(user.id)).map((identity) => Identity.from(identity));
  }
}
