import type { JsonLayout } from "../json-layout.js";
import type { SessionData } from "../types.js";
import type { View } from "../protocol/types.js";

/*
 * The parsed data of a view, made once per view and shared, read only, by every request it serves: a hit
 * parses nothing. A request that changed the session leaves its data already parsed for the view it made
 * (see WorkingCopy.settled), so the next request does not parse what this one just serialised; and the
 * layout of that view's JSON (see json-layout.ts), so the next change serialises only what it touched.
 */
export interface ParsedView {
  data: SessionData;
  /** Known for a view this isolate's change made; a view read from the store has none. */
  layout: JsonLayout | undefined;
}

const parsed = new WeakMap<View, ParsedView>();

export function parsedView(view: View): ParsedView {
  let known = parsed.get(view);
  if (known === undefined) {
    known = { data: JSON.parse(view.json) as SessionData, layout: undefined };
    parsed.set(view, known);
  }
  return known;
}

/** `settled.data` is what parsing `json` gives; it becomes the view's parsed data when the view's JSON is that JSON. */
export function rememberParsed(view: View, json: string, settled: ParsedView): void {
  if (view.json === json && !parsed.has(view)) parsed.set(view, settled);
}
