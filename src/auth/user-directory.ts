/**
 * Every user's id, email, roles and enabled flag, in memory: the request path reads them here. The
 * whole table is re-read when the `users`, `roles` or `config` topic changes (on any instance).
 */

import type { Store } from '../store/store.ts';
import { normalizeEmail } from '../store/users.ts';

export interface UserState {
  id: string;
  email: string;
  enabled: boolean;
  /** Sorted. */
  roles: readonly string[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class UserDirectory {
  readonly #store: Store;
  #byId = new Map<string, UserState>();
  #byEmail = new Map<string, UserState>();
  /** Ids looked up in the database since the last load and not found there. */
  #missing = new Set<string>();
  /** Bumped by every load: a database read that started before a load must not overwrite it. */
  #generation = 0;

  constructor(store: Store) {
    this.#store = store;
  }

  async load(): Promise<void> {
    const users = await this.#store.users.list();
    const byId = new Map<string, UserState>();
    const byEmail = new Map<string, UserState>();
    for (const u of users) {
      const state: UserState = {
        id: u.id,
        email: u.email,
        enabled: u.enabled,
        roles: Object.freeze([...u.roles]),
      };
      byId.set(u.id, state);
      byEmail.set(u.email, state);
    }
    this.#byId = byId;
    this.#byEmail = byEmail;
    this.#missing = new Set();
    this.#generation += 1;
  }

  /**
   * The user, from memory. Only an id never seen since the last load (a user created on another
   * instance a moment ago) is read from the database; ids found missing there are remembered.
   */
  async get(id: string): Promise<UserState | undefined> {
    const known = this.#byId.get(id);
    if (known || this.#missing.has(id) || !UUID.test(id)) return known;
    const generation = this.#generation;
    const record = await this.#store.users.get(id);
    if (generation !== this.#generation) return this.#byId.get(id);
    if (!record) {
      if (this.#missing.size < 10_000) this.#missing.add(id);
      return undefined;
    }
    const state: UserState = {
      id: record.id,
      email: record.email,
      enabled: record.enabled,
      roles: Object.freeze([...record.roles]),
    };
    this.#byId.set(id, state);
    this.#byEmail.set(state.email, state);
    return state;
  }

  byEmail(email: string): UserState | undefined {
    return this.#byEmail.get(normalizeEmail(email));
  }
}
