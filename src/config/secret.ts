/**
 * Holds a credential so that logging, JSON-encoding or string-interpolating the configuration can never
 * print it: only `reveal()` gives the value, and only the key derivation and the store client call it.
 */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return "[redacted]";
  }
  toJSON(): string {
    return "[redacted]";
  }
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return "Secret([redacted])";
  }
}
