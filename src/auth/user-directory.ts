import type { StoredIdentity, StoredUser, UserRepository } from "../store/user.repository.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Users by id, for other services of the supergraph that hold only the id. */
export class UserDirectory {
  constructor(private readonly users: UserRepository) {}

  /** In the order asked; `null` for ids that name no user, including ids that are not UUIDs at all. */
  async findByIds(ids: readonly string[]): Promise<Array<StoredUser | null>> {
    const valid = [...new Set(ids.filter((id) => UUID.test(id)).map((id) => id.toLowerCase()))];
    const found = valid.length === 0 ? new Map<string, StoredUser>() : await this.users.findByIds(valid);
    return ids.map((id) => found.get(id.toLowerCase()) ?? null);
  }

  /** The identities of each user, in the order asked; users are known to exist (they come from a user object). */
  async identitiesOf(userIds: readonly string[]): Promise<StoredIdentity[][]> {
    const found = await this.users.identitiesOf([...new Set(userIds)]);
    return userIds.map((id) => found.get(id) ?? []);
  }
}
