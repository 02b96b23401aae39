// Uint8Array.prototype.toBase64 is native in current workerd; older runtimes take the btoa path.
type Base64Native = {
  toBase64?: (this: Uint8Array, options?: { alphabet: "base64url"; omitPadding: boolean }) => string;
};
type Base64NativeCtor = {
  fromBase64?: (
    text: string,
    options: { alphabet: "base64url"; lastChunkHandling?: "loose" | "strict" },
  ) => Uint8Array<ArrayBuffer>;
};
const nativeEncode = (Uint8Array.prototype as Base64Native).toBase64;
const nativeDecode = (Uint8Array as unknown as Base64NativeCtor).fromBase64;
const CHUNK = 0x8000;

export function encodeBase64Url(bytes: Uint8Array): string {
  if (nativeEncode) return nativeEncode.call(bytes, { alphabet: "base64url", omitPadding: true });
  return encodeBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Standard base64, padded (as `btoa` writes it). */
export function encodeBase64(bytes: Uint8Array): string {
  if (nativeEncode) return nativeEncode.call(bytes);
  let binary = "";
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  }
  return btoa(binary);
}

/** Throws a `SyntaxError` on anything that is not unpadded base64url. */
export function decodeBase64Url(text: string): Uint8Array<ArrayBuffer> {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new SyntaxError("not base64url");
  if (nativeDecode) return nativeDecode(text, { alphabet: "base64url" });
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
