import { serializeSigned } from "hono/utils/cookie";
import { Secret } from "../../src/config/secret.js";
import { deriveKeys } from "../../src/sealing/keys.js";
import { SECRET } from "../../test/support/node.js";

/*
 * Cookie values signed the way the layer signs them (hono's signed cookies, with the cookie key HKDF
 * derives from a secret). The fuzz knows the test worker's secret, so it can also sign values the worker
 * never would (a version past uint32, an id of the wrong shape) and reach the parsing behind the signature,
 * and it signs with another instance's secret, which the worker must refuse.
 */

/** Another app's secret: cookies it signed look right, and must open nothing here. */
export const OTHER_INSTANCE_SECRET = "fuzz-another-instance-".padEnd(80, "o");

export type Signer = (name: string, value: string) => Promise<string>;

/** The cookie value (as sent in a `Cookie` header: URL-encoded `value.signature`) for `name=value`. */
export async function signerFor(secret: string): Promise<Signer> {
  const { cookie } = await deriveKeys(new Secret(secret));
  return async (name, value) => {
    // No attributes given, so the line is just `name=value.signature`.
    const line = await serializeSigned(name, value, cookie);
    return line.slice(name.length + 1);
  };
}

export interface Signers {
  /** The worker's own secret. */
  own: Signer;
  /** Another instance's secret. */
  other: Signer;
}

export async function signers(): Promise<Signers> {
  const [own, other] = await Promise.all([signerFor(SECRET), signerFor(OTHER_INSTANCE_SECRET)]);
  return { own, other };
}
