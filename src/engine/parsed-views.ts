import type { SessionData } from "../types.js";
import type { View } from "../protocol/types.js";

/*
 * The parsed data of a view, made once per view and shared, read only, by every request it serves: a hit
 * parses nothing. A request that changed the session leaves its data already parsed for the view it made
 * (see WorkingCopy.settled), so the next request does not parse what this one just serialised.
 */
const parsed = new WeakMap<View, SessionData>();

export function parsedView(view: View): SessionData {
  let data = parsed.get(view);
  if (data === undefined) {
    data = JSON.parse(view.json) as SessionData;
    parsed.set(view, data);
  }
  return data;
}

/** `data` is what parsing `json` gives; it becomes the view's parsed data when the view's JSON is that JSON. */
export function rememberParsed(view: View, json: string, data: SessionData): void {
  if (view.json === json && !parsed.has(view)) parsed.set(view, data);
}
