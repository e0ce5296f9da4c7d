/**
 * Account settings: one JSON document per account, stored as JSON text; its shape belongs to the
 * settings service, which keeps tokens out of it.
 */

/** Which write of an account's settings document is stored: revision 1 is the first write. */
export interface SettingsVersion {
  revision: number;
  updatedAt: number;
}

export interface StoredSettings extends SettingsVersion {
  settings: Record<string, unknown>;
}

export interface SettingsRepository {
  get(account: string): Promise<Record<string, unknown> | undefined>;
  /** The document with its version (revision and updatedAt), read in one statement. */
  getStored(account: string): Promise<StoredSettings | undefined>;
  /** Replaces the document whatever it was (last write wins); returns its new revision. */
  put(account: string, settings: Record<string, unknown>, updatedAt: number): Promise<number>;
  /**
   * Replaces the document only if it is still the version `read` (undefined: none stored yet), in
   * one conditional statement: of writers that read the same version, exactly one succeeds, however
   * they interleave. Returns the new revision, or undefined (nothing written) when it had changed.
   */
  putIfUnchanged(
    account: string,
    settings: Record<string, unknown>,
    updatedAt: number,
    read: SettingsVersion | undefined,
  ): Promise<number | undefined>;
}
