/** Custom roles of an account. Predefined roles live in the catalog, not here. Ids start at 100000. */

export interface CustomRoleRecord {
  id: number;
  account: string;
  name: string;
  resources: string[];
  createdAt: number;
  updatedAt: number;
}

export interface RoleRepository {
  /** Throws StoreConflict("role_name") when the account has a role of that name (case-insensitive). */
  create(role: Omit<CustomRoleRecord, "id">): Promise<CustomRoleRecord>;
  get(account: string, id: number): Promise<CustomRoleRecord | undefined>;
  /** In creation order (by id). */
  list(account: string): Promise<CustomRoleRecord[]>;
  /** False when the account has no such role; StoreConflict("role_name") as `create`. */
  update(
    account: string,
    id: number,
    patch: { name: string; resources: string[]; updatedAt: number },
  ): Promise<boolean>;
  /** Also withdraws the role from every user and key holding it in the account. False if unknown. */
  delete(account: string, id: number): Promise<boolean>;
  /** Users (invitations offering it included) and keys that hold the role in the account. */
  countHolders(account: string, roleId: number): Promise<number>;
  /**
   * Distinct role ids held in the account by the users and keys holding `roleId` there, ascending.
   * Invitations count as holding the roles they offer.
   */
  coHeldRoleIds(account: string, roleId: number): Promise<number[]>;
  /** Distinct role ids held in the account by its own generated keys, ascending. */
  ownKeysRoleIds(account: string): Promise<number[]>;
}
