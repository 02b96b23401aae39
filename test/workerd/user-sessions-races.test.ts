import { Hono } from "hono";
import { describe, expect, it, vi } from "vitest";
import {
  session,
  type SessionInfo,
  type SessionOptions,
  type UserCustomStore as SessionStore,
} from "../../src/index.js";
import { Browser, MemoryLogger, SECRET, storeClients, type StoreKind } from "../support/workerd.js";

/*
 * The user index against requests racing on the same session, on Redis (through the gateway) and on the
 * Durable Object store: a login's index entry and a logout's removal of it, two sign-outs everywhere at once.
 * Each "isolate" is a session() middleware of its own (its own memory tier) with its own store client; the
 * races are ordered by a hook that runs when a compare-and-set has landed, before the store answers it.
 */
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Hook = () => Promise<void>;

/**
 * `base` with one-shot hooks, each run once and then cleared: `landed` when a compare-and-set has landed,
 * before the store's answer is handed back; `before[method]` before the next call of a method, and
 * `after[method]` once it has answered, before the answer is handed back.
 */
function hooked(base: SessionStore) {
  const hooks: { landed?: Hook; before: Record<string, Hook>; after: Record<string, Hook> } = { before: {}, after: {} };
  const take = (from: Record<string, Hook>, name: string) => {
    const hook = from[name];
    delete from[name];
    return hook;
  };
  const store = new Proxy(base, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== "function" || typeof property !== "string") return value;
      return async (...args: unknown[]) => {
        await take(hooks.before, property)?.();
        const answer = (await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args)) as unknown;
        if (property === "setIfVersion" && answer === null && hooks.landed !== undefined) {
          const hook = hooks.landed;
          hooks.landed = undefined;
          await hook();
        }
        await take(hooks.after, property)?.();
        return answer;
      };
    },
  });
  return { store, hooks };
}

/** A promise, and the function that resolves it. */
function signal(): { done: Promise<void>; fire: () => void } {
  let fire!: () => void;
  const done = new Promise<void>((resolve) => (fire = resolve));
  return { done, fire };
}

function isolate(store: SessionStore, extra: SessionOptions = {}) {
  return (
    new Hono()
      .use(session({ secret: SECRET, store, logger: new MemoryLogger(), ...extra }))
      .get("/read", async (c) => c.json(await c.var.session.get()))
      .put("/data", async (c) => {
        for (const [key, value] of Object.entries(await c.req.json<Record<string, unknown>>()))
          await c.var.session.set(key, value);
        return c.json({ ok: true });
      })
      .post("/login", async (c) => {
        await c.var.session.regenerate();
        await c.var.session.setUser("ada");
        return c.json({ ok: true });
      })
      // A sign-in that ties the session it has: written before the response (commit), or after it.
      .post("/tie", async (c) => {
        await c.var.session.setUser("ada");
        if (c.req.query("later") === undefined) await c.var.session.commit();
        return c.json({ ok: true });
      })
      .post("/logout", async (c) => {
        await c.var.session.destroy();
        return c.json({ ok: true });
      })
      .get("/user", async (c) => c.json({ user: (await c.var.session.getUser()) ?? null }))
      .get("/sessions", async (c) => c.json(await c.var.session.listSessions()))
      .post("/sign-out-everywhere", async (c) => c.json({ revoked: await c.var.session.revokeAllSessions() }))
      // Signs out everywhere, this session too, and signs in again at once, in the same request.
      .post("/sign-out-everywhere-and-in", async (c) => {
        await c.var.session.revokeAllSessions();
        await c.var.session.setUser("ada");
        return c.json({ ok: true });
      })
      .post("/sign-out-others", async (c) =>
        c.json({ revoked: await c.var.session.revokeAllSessions({ keepCurrent: true }) }),
      )
      .post("/revoke", async (c) => {
        const { handle } = await c.req.json<{ handle: string }>();
        return c.json({ revoked: await c.var.session.revokeSession(handle) });
      })
  );
}

describe.each<StoreKind>(["redis", "durable-object"])("the user index on %s", (kind) => {
  /** Ada's sessions as a phone she signs in on afterwards lists them: `true` for the phone's own. */
  async function listedOnNewPhone(client: () => SessionStore): Promise<boolean[]> {
    const phone = new Browser(isolate(client()));
    await phone.fetch("/login", { method: "POST" });
    return ((await phone.json("/sessions")) as SessionInfo[]).map((s) => s.current);
  }

  it("a logout on another isolate between a sign-in's write and its index entry does not leave the session listed", async () => {
    const client = storeClients(kind, "races");
    const { store, hooks } = hooked(client());
    const tab = new Browser(isolate(store));
    await tab.fetch("/data", { method: "PUT", json: { cart: ["sku-1"] } }); // anonymous, stored
    // The sign-in's write lands; before its index entry is put, another tab logs out on another isolate
    // (its copy is the store's: tied to ada), and takes the (not yet put) entry out.
    hooks.landed = async () => {
      await new Browser(isolate(client())).with(tab.cookie).fetch("/logout", { method: "POST" });
    };
    await tab.fetch("/tie", { method: "POST" });
    expect(hooks.landed).toBeUndefined(); // the hook ran
    expect(await new Browser(isolate(client())).with(tab.cookie).json("/user")).toEqual({ user: null });
    expect(await listedOnNewPhone(client)).toEqual([true]); // not the logged-out session as well
  });

  it("a logout on the same isolate while the sign-in is written after the response does not leave it listed", async () => {
    const client = storeClients(kind, "races");
    const { store, hooks } = hooked(client());
    const app = isolate(store);
    const tab = new Browser(app);
    await tab.fetch("/data", { method: "PUT", json: { cart: ["sku-1"] } });
    hooks.landed = async () => {
      await new Browser(app).with(tab.cookie).fetch("/logout", { method: "POST" });
    };
    await tab.fetch("/tie?later", { method: "POST" }); // the tie is written in waitUntil, which the hook runs in
    expect(hooks.landed).toBeUndefined();
    expect(await new Browser(isolate(client())).with(tab.cookie).json("/user")).toEqual({ user: null });
    expect(await listedOnNewPhone(client)).toEqual([true]);
  });

  it("revokeSession between a write's store write and its entry put again does not leave the session listed", async () => {
    const client = storeClients(kind, "races");
    // Idle timeout 2 s: an entry is put again by a write once per refresh interval (0.5 s).
    const options = { idleTimeoutMs: 2_000 };
    const { store, hooks } = hooked(client());
    const laptop = new Browser(isolate(store, options));
    await laptop.fetch("/login", { method: "POST" });
    const phone = new Browser(isolate(client(), options));
    await phone.fetch("/login", { method: "POST" });
    const [other] = ((await phone.json("/sessions")) as SessionInfo[]).filter((s) => !s.current);
    await sleep(600); // past the refresh interval: the laptop's next write puts its entry again
    // From the phone, Ada signs the laptop out, between its write and that put.
    hooks.landed = async () => {
      expect(await phone.json("/revoke", { method: "POST", json: { handle: other!.handle } })).toEqual({
        revoked: true,
      });
    };
    await laptop.fetch("/data", { method: "PUT", json: { seen: 1 } });
    expect(hooks.landed).toBeUndefined();
    expect(await new Browser(isolate(client())).with(laptop.cookie).json("/user")).toEqual({ user: null });
    expect(((await phone.json("/sessions")) as SessionInfo[]).map((s) => s.current)).toEqual([true]);
  });

  /** Runs `body` with `Date` frozen (timers run as usual), then gives the clock back. */
  async function withFrozenClock<T>(body: () => Promise<T>): Promise<T> {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now());
    try {
      return await body();
    } finally {
      vi.useRealTimers();
    }
  }

  /**
   * Ada signed in on a laptop and a phone, each on an isolate of its own whose store calls can be hooked;
   * `signedIn` asks a fresh isolate whether a cookie is still signed in as ada.
   */
  async function adaOnTwoIsolates() {
    const client = storeClients(kind, "races");
    const a = hooked(client());
    const b = hooked(client());
    const laptop = new Browser(isolate(a.store));
    await laptop.fetch("/login", { method: "POST" });
    const phone = new Browser(isolate(b.store));
    await phone.fetch("/login", { method: "POST" });
    const fresh = (cookie: string | undefined) => new Browser(isolate(client())).with(cookie);
    const signedIn = async (cookie: string | undefined) =>
      ((await fresh(cookie).json("/user")) as { user: string | null }).user === "ada";
    return { client, a, b, laptop, phone, fresh, signedIn };
  }

  describe("two sign-outs everywhere else from two sessions of one user, in the same millisecond", () => {
    /**
     * Ada signed in on a laptop and a phone, on two isolates whose clocks read the same millisecond all along
     * (two machines' clocks can): both sign out everywhere else at once, so their times, and with them their
     * cut-offs and their sessions' new ties, are equal. `race` orders the two calls with the hooks; answers
     * whether each session is still signed in afterwards, and what the survivor lists.
     */
    async function bothSignOutOthers(
      race: (
        laptop: ReturnType<typeof hooked>["hooks"],
        phone: ReturnType<typeof hooked>["hooks"],
        second: () => Promise<unknown>,
      ) => void,
    ) {
      return await withFrozenClock(async () => {
        const { a, b, laptop, phone, fresh, signedIn } = await adaOnTwoIsolates();
        let second: Promise<unknown> | undefined;
        race(a.hooks, b.hooks, () => (second = phone.json("/sign-out-others", { method: "POST" })));
        await laptop.json("/sign-out-others", { method: "POST" });
        expect(second, "the phone's call ran where the race put it").toBeDefined();
        await second;
        const listed = async (cookie: string | undefined) =>
          ((await fresh(cookie).json("/sessions")) as SessionInfo[]).map((s) => s.current);
        return {
          laptop: await signedIn(laptop.cookie),
          phone: await signedIn(phone.cookie),
          listedOnPhone: await listed(phone.cookie),
        };
      });
    }

    it("the one that sees the other's new tie gives way: exactly one survives, and stays listed", async () => {
      // The laptop's new tie lands; before it goes on, the phone's whole call runs up to its cut-off (held
      // until the laptop's is set): the phone read the index before the laptop's new entry was put.
      const outcome = await bothSignOutOthers((laptop, phone, second) => {
        const phoneCuts = signal();
        const laptopCuts = signal();
        laptop.landed = async () => {
          void second();
          await phoneCuts.done;
        };
        phone.before["revokeBefore"] = async () => {
          phoneCuts.fire();
          await laptopCuts.done;
        };
        laptop.before["revokeBefore"] = async () => laptopCuts.fire();
      });
      expect(outcome).toEqual({ laptop: false, phone: true, listedOnPhone: [true] });
    });

    it("when each sees the other's new tie, both give way: both are signed out", async () => {
      // Each reads the index before the other's new tie is written (so both are tied anew in the same
      // millisecond), and reads it again once both new ties and their entries have landed.
      const outcome = await bothSignOutOthers((laptop, phone, second) => {
        const phoneWrites = signal();
        const laptopPut = signal();
        const phonePut = signal();
        const laptopRead = signal();
        const phoneRead = signal();
        laptop.before["setIfVersion"] = async () => {
          void second();
          await phoneWrites.done;
        };
        phone.before["setIfVersion"] = async () => phoneWrites.fire();
        // Each one's second index read comes after its own entry is put, and waits for the other's.
        laptop.landed = async () => {
          laptop.before["readIndex"] = async () => {
            laptopPut.fire();
            await phonePut.done;
          };
          laptop.after["readIndex"] = async () => {
            laptopRead.fire();
            await phoneRead.done;
          };
        };
        phone.landed = async () => {
          phone.before["readIndex"] = async () => {
            phonePut.fire();
            await laptopPut.done;
          };
          phone.after["readIndex"] = async () => {
            phoneRead.fire();
            await laptopRead.done;
          };
        };
      });
      expect(outcome).toEqual({ laptop: false, phone: false, listedOnPhone: [] });
    });
  });

  it("a sign-out everywhere and a sign-out everywhere else in the same millisecond keep nothing", async () => {
    await withFrozenClock(async () => {
      const { b, laptop, phone, signedIn } = await adaOnTwoIsolates();
      // The phone signs out everywhere; after its check, before its cut-off lands, the laptop's whole sign-out
      // everywhere else runs: its new tie is made at the phone's time + 1, and it sees no cut-off after it.
      b.hooks.before["revokeBefore"] = async () => {
        await laptop.json("/sign-out-others", { method: "POST" });
      };
      await phone.json("/sign-out-everywhere", { method: "POST" });
      expect(b.hooks.before["revokeBefore"], "the laptop's call ran where the race put it").toBeUndefined();
      // In either order the laptop's session ends: the phone's sign-out after it, or its own revoked before it.
      expect({ laptop: await signedIn(laptop.cookie), phone: await signedIn(phone.cookie) }).toEqual({
        laptop: false,
        phone: false,
      });
    });
  });

  it("a sign-in right after a sign-out everywhere, in the same request, stands", async () => {
    // workerd's clock moves only with I/O: the sign-in's time can read below the cut-off, which reaches a
    // millisecond past the call. Frozen here, it reads the call's own millisecond.
    await withFrozenClock(async () => {
      const client = storeClients(kind, "races");
      const laptop = new Browser(isolate(client()));
      await laptop.fetch("/login", { method: "POST" });
      await laptop.json("/sign-out-everywhere-and-in", { method: "POST" });
      expect(await laptop.json("/user")).toEqual({ user: "ada" });
      vi.setSystemTime(Date.now() + 6_000); // past the staleness bound: confirmed against the store's cut-off
      expect(await new Browser(isolate(client())).with(laptop.cookie).json("/user")).toEqual({ user: "ada" });
    });
  });

  describe("isolates whose clocks disagree", () => {
    /** Ada signs in on a tablet, on an isolate of its own whose clock reads `at`. */
    async function tabletAt(client: () => SessionStore, at: number): Promise<Browser> {
      vi.setSystemTime(at);
      const tablet = new Browser(isolate(client()));
      await tablet.fetch("/login", { method: "POST" });
      return tablet;
    }

    it("a sign-out everywhere ends the session that a sign-out everywhere else kept before it, by a clock ahead of its own", async () => {
      await withFrozenClock(async () => {
        const { client, laptop, phone, signedIn } = await adaOnTwoIsolates();
        const t = Date.now();
        // The laptop's isolate reads 100 ms ahead: it signs the phone out and keeps its own session, tied anew at t + 101.
        vi.setSystemTime(t + 100);
        expect(await laptop.json("/sign-out-others", { method: "POST" })).toEqual({ revoked: 1 });
        const tablet = await tabletAt(client, t + 150);
        // Afterwards, the tablet signs out everywhere on an isolate whose clock reads t: a cut-off at its own
        // time + 2 would end nothing tied by the laptop's clock.
        vi.setSystemTime(t);
        expect(await tablet.json("/sign-out-everywhere", { method: "POST" })).toEqual({ revoked: 2 });
        expect({
          laptop: await signedIn(laptop.cookie),
          phone: await signedIn(phone.cookie),
          tablet: await signedIn(tablet.cookie),
        }).toEqual({ laptop: false, phone: false, tablet: false });
      });
    });

    it("a sign-out everywhere ends the session a sign-out everywhere else ties anew between its check and its cut-off, by a clock ahead", async () => {
      await withFrozenClock(async () => {
        const { b, laptop, phone, signedIn } = await adaOnTwoIsolates();
        const t = Date.now();
        // The phone signs out everywhere. After its check, before its cut-off lands, the laptop's whole sign-out
        // everywhere else runs on an isolate whose clock reads 5 ms ahead: its new tie (t + 6) is past the
        // phone's cut-off (t + 2), and it read the index before that cut-off stood.
        b.hooks.before["revokeBefore"] = async () => {
          vi.setSystemTime(t + 5);
          expect(await laptop.json("/sign-out-others", { method: "POST" })).toEqual({ revoked: 1 });
          vi.setSystemTime(t);
        };
        await phone.json("/sign-out-everywhere", { method: "POST" });
        expect(b.hooks.before["revokeBefore"], "the laptop's call ran where the race put it").toBeUndefined();
        expect({ laptop: await signedIn(laptop.cookie), phone: await signedIn(phone.cookie) }).toEqual({
          laptop: false,
          phone: false,
        });
      });
    });

    it("a sign-in made after a sign-out everywhere answered stands, though a clock far ahead tied a session before the call", async () => {
      await withFrozenClock(async () => {
        const { client, phone, signedIn } = await adaOnTwoIsolates();
        const t = Date.now();
        const tablet = await tabletAt(client, t + 500);
        vi.setSystemTime(t + 10);
        expect(await phone.json("/sign-out-everywhere", { method: "POST" })).toEqual({ revoked: 3 });
        // Ada signs in again afterwards, on an isolate whose clock reads as the phone's did: past its cut-off,
        // though not past the tablet's tie (a cut-off pushed past that would revoke this sign-in too).
        const again = await tabletAt(client, t + 100);
        vi.setSystemTime(t + 6_000);
        expect({ tablet: await signedIn(tablet.cookie), again: await signedIn(again.cookie) }).toEqual({
          tablet: false,
          again: true,
        });
      });
    });

    it("a sign-out everywhere whose read after its cut-off fails still answers: its cut-off stands", async () => {
      await withFrozenClock(async () => {
        const { b, laptop, phone, signedIn } = await adaOnTwoIsolates();
        const t = Date.now();
        b.hooks.before["revokeBefore"] = async () => {
          vi.setSystemTime(t + 5);
          await laptop.json("/sign-out-others", { method: "POST" });
          vi.setSystemTime(t);
          b.hooks.before["readIndex"] = async () => {
            throw new Error("the store is unreachable");
          };
        };
        // The cut-off stands: the call is not a failure (a retry would be refused, its session revoked).
        const response = await phone.fetch("/sign-out-everywhere", { method: "POST" });
        expect(response.status).toBe(200);
        expect(b.hooks.before["readIndex"], "the read after the cut-off was made, and failed").toBeUndefined();
        vi.setSystemTime(t + 6_000);
        expect(await signedIn(phone.cookie)).toBe(false);
      });
    });

    it("a sign-out everywhere else that cannot end a session tied past its cut-off fails, and a retry ends it", async () => {
      await withFrozenClock(async () => {
        const { client, b, phone, signedIn } = await adaOnTwoIsolates();
        const t = Date.now();
        const tablet = await tabletAt(client, t + 100); // tied past the phone's cut-off (t + 1)
        vi.setSystemTime(t);
        // The phone's read of the tablet's session, to end it, fails.
        b.hooks.before["revokeBefore"] = async () => {
          b.hooks.before["getIfChanged"] = async () => {
            throw new Error("the store is unreachable");
          };
        };
        expect((await phone.fetch("/sign-out-others", { method: "POST" })).status).toBe(500);
        expect(b.hooks.before["getIfChanged"], "the read of the tablet's session was made, and failed").toBeUndefined();
        expect(await phone.json("/sign-out-others", { method: "POST" })).toEqual({ revoked: 1 });
        vi.setSystemTime(t + 6_000);
        expect({ phone: await signedIn(phone.cookie), tablet: await signedIn(tablet.cookie) }).toEqual({
          phone: true,
          tablet: false,
        });
      });
    });

    it("a sign-out everywhere else with more sessions tied past its cut-off than it ends at once fails, and a retry ends the rest", async () => {
      await withFrozenClock(async () => {
        const { client, phone, signedIn } = await adaOnTwoIsolates();
        const t = Date.now();
        const tablets: Browser[] = [];
        for (let i = 0; i < 5; i++) tablets.push(await tabletAt(client, t + 100));
        vi.setSystemTime(t);
        expect((await phone.fetch("/sign-out-others", { method: "POST" })).status).toBe(503);
        expect((await phone.fetch("/sign-out-others", { method: "POST" })).status).toBe(200);
        vi.setSystemTime(t + 6_000);
        const still: boolean[] = [];
        for (const tablet of tablets) still.push(await signedIn(tablet.cookie));
        expect({ phone: await signedIn(phone.cookie), tablets: still }).toEqual({
          phone: true,
          tablets: [false, false, false, false, false],
        });
      });
    });

    it("a sign-out everywhere else retried on an isolate whose copy predates the first attempt's new tie keeps the session", async () => {
      await withFrozenClock(async () => {
        const { client, b, phone, signedIn } = await adaOnTwoIsolates();
        const t = Date.now();
        const other = isolate(client());
        await new Browser(other).with(phone.cookie).json("/user"); // another isolate holds the phone's session
        const tablet = await tabletAt(client, t + 100);
        vi.setSystemTime(t);
        // The first attempt ties the phone's session anew, sets its cut-off, and fails to end the tablet's.
        b.hooks.before["revokeBefore"] = async () => {
          b.hooks.before["getIfChanged"] = async () => {
            throw new Error("the store is unreachable");
          };
        };
        expect((await phone.fetch("/sign-out-others", { method: "POST" })).status).toBe(500);
        // The retry lands on the other isolate, whose copy of the session still has its old tie.
        vi.setSystemTime(t + 50);
        const retry = await new Browser(other).with(phone.cookie).fetch("/sign-out-others", { method: "POST" });
        expect(retry.status).toBe(200);
        vi.setSystemTime(t + 6_000);
        expect({ phone: await signedIn(phone.cookie), tablet: await signedIn(tablet.cookie) }).toEqual({
          phone: true,
          tablet: false,
        });
      });
    });

    it("a sign-out everywhere else keeps its session when its clock reads behind the cut-off stored", async () => {
      await withFrozenClock(async () => {
        const { client, laptop, phone, signedIn } = await adaOnTwoIsolates();
        const t = Date.now();
        // The laptop signs out everywhere by a clock 100 ms ahead (cut-off t + 102); the tablet signs in after it.
        vi.setSystemTime(t + 100);
        expect(await laptop.json("/sign-out-everywhere", { method: "POST" })).toEqual({ revoked: 2 });
        const tablet = await tabletAt(client, t + 200);
        // The tablet signs out everywhere else on an isolate whose clock reads t: a new tie at its own time + 1
        // would fall below the laptop's cut-off, and end the very session it keeps.
        vi.setSystemTime(t);
        expect(await tablet.json("/sign-out-others", { method: "POST" })).toEqual({ revoked: 0 });
        expect(await tablet.json("/user")).toEqual({ user: "ada" });
        vi.setSystemTime(t + 6_000); // past the staleness bound: each confirmed against the store
        expect({
          laptop: await signedIn(laptop.cookie),
          phone: await signedIn(phone.cookie),
          tablet: await signedIn(tablet.cookie),
        }).toEqual({ laptop: false, phone: false, tablet: true });
        expect(((await tablet.json("/sessions")) as SessionInfo[]).map((s) => s.current)).toEqual([true]);
      });
    });
  });

  it("a sign-out everywhere else whose new tie failed to land keeps nothing once the other sign-out lands", async () => {
    await withFrozenClock(async () => {
      const { a, b, laptop, phone } = await adaOnTwoIsolates();
      // The laptop's isolate cannot write until the phone's sign-out has landed.
      let down = true;
      const refuse = async () => {
        if (!down) return;
        a.hooks.before["setIfVersion"] = refuse;
        throw new Error("the store is unreachable");
      };
      // The phone signs out everywhere. After its check, before its cut-off lands, the laptop (a few ms later
      // by the clock) signs out everywhere else: its new tie, later than the phone's cut-off, does not land.
      b.hooks.before["revokeBefore"] = async () => {
        vi.setSystemTime(Date.now() + 5);
        a.hooks.before["setIfVersion"] = refuse;
        expect((await laptop.fetch("/sign-out-others", { method: "POST" })).status).toBe(500);
      };
      await phone.json("/sign-out-everywhere", { method: "POST" });
      expect(b.hooks.before["revokeBefore"], "the laptop's call ran where the race put it").toBeUndefined();
      down = false;
      // Past the staleness bound, the laptop's own isolate confirms its copy: the tie the store holds is revoked,
      // and the new one that never landed does not save it.
      vi.setSystemTime(Date.now() + 6_000);
      expect(await laptop.json("/user")).toEqual({ user: null });
    });
  });
});
