import type { IndexChange } from "./types.js";

/** Index changes grouped by the user they name, each user once, in the order the users first appear. */
export function changesByUser(changes: IndexChange[]): Map<string, IndexChange[]> {
  const users = new Map<string, IndexChange[]>();
  for (const change of changes) {
    const list = users.get(change.userKey);
    if (list === undefined) users.set(change.userKey, [change]);
    else list.push(change);
  }
  return users;
}
