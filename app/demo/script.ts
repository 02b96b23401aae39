/**
 * The demo page's script (plain JavaScript, sent as is). It renders only what the JSON routes answer, with
 * textContent (never innerHTML), and logs every response's `Server-Timing` header. `data-pending` on
 * <body> counts the requests in flight (the browser test waits for it to be 0).
 */
export const SCRIPT_JS = String.raw`"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const MAX_LOG = 60;
  let pending = 0;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function clock(ms) {
    return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  function notice(text) {
    const box = $("notice");
    box.textContent = text || "";
    box.hidden = !text;
  }

  // "a;dur=1.2;desc=\"x\", b;desc=\"y\"" -> { a: { dur: 1.2, desc: "x" }, b: { desc: "y" } }
  function parseTiming(header) {
    const metrics = {};
    for (const part of header.split(",")) {
      const [name, ...params] = part.trim().split(";");
      if (!name) continue;
      const metric = {};
      for (const param of params) {
        const at = param.indexOf("=");
        if (at < 0) continue;
        const key = param.slice(0, at).trim();
        let value = param.slice(at + 1).trim();
        if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
        metric[key] = key === "dur" ? Number(value) : value;
      }
      metrics[name.trim()] = metric;
    }
    return metrics;
  }

  function ms(value) {
    return (value < 10 ? value.toFixed(1) : Math.round(value)) + " ms";
  }

  function chips(header) {
    const m = parseTiming(header);
    const out = [];
    if (m.session) out.push(["tier-" + m.session.desc, m.session.desc]);
    const store = m["session-store"];
    if (store) out.push(["", store.desc + (store.dur > 0 ? ", " + ms(store.dur) : "")]);
    if (m["session-wait"]) out.push(["", "waited " + ms(m["session-wait"].dur)]);
    if (m["session-write"]) out.push(["", "write " + m["session-write"].desc]);
    const seal = (m["session-seal"] || {}).dur || 0;
    const unseal = (m["session-unseal"] || {}).dur || 0;
    if (seal + unseal > 0) out.push(["", "seal " + ms(seal) + " / unseal " + ms(unseal)]);
    return out;
  }

  function logResponse(action, method, path, status, header, elapsed) {
    const item = el("li", "log-entry");
    item.dataset.action = action;
    item.dataset.status = String(status);
    item.dataset.timing = header || "";
    const head = el("div", "log-head");
    head.append(
      el("span", "log-action", action),
      el("span", "log-request", method + " " + path),
      el("span", status >= 200 && status < 300 ? "status" : "status bad", status ? String(status) : "failed"),
      el("span", "log-time", clock(Date.now()) + " \u00b7 " + ms(elapsed)),
    );
    item.append(head);
    if (header) {
      const row = el("div", "chips");
      for (const [kind, text] of chips(header)) row.append(el("span", "chip " + kind, text));
      item.append(row, el("code", "raw", "Server-Timing: " + header));
    } else {
      item.append(el("code", "raw", "no Server-Timing (the session was not used)"));
    }
    const log = $("log");
    log.prepend(item);
    while (log.children.length > MAX_LOG) log.lastElementChild.remove();
  }

  async function request(action, method, path, body) {
    pending++;
    document.body.dataset.pending = String(pending);
    const started = performance.now();
    try {
      const init = { method, credentials: "same-origin", cache: "no-store", headers: {} };
      if (body !== undefined) {
        init.headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
      let res;
      try {
        res = await fetch(path, init);
      } catch (error) {
        logResponse(action, method, path, 0, "", performance.now() - started);
        notice("The request failed: " + error.message);
        return { status: 0, data: {} };
      }
      const data = await res.json().catch(() => ({}));
      logResponse(action, method, path, res.status, res.headers.get("Server-Timing"), performance.now() - started);
      if (res.status === 401) signedOut("This session has ended (signed out here or on another device).");
      else if (!res.ok) notice(data.error || "The server answered " + res.status + ".");
      return { status: res.status, data };
    } finally {
      pending--;
      document.body.dataset.pending = String(pending);
    }
  }

  function signedOut(message) {
    $("who").hidden = true;
    $("cart-card").hidden = true;
    $("sessions-card").hidden = true;
    $("sign-in").hidden = false;
    $("cart").replaceChildren();
    $("sessions").replaceChildren();
    notice(message || "");
  }

  function signedIn(user, cart) {
    $("who-name").textContent = user;
    $("who").hidden = false;
    $("sign-in").hidden = true;
    $("cart-card").hidden = false;
    $("sessions-card").hidden = false;
    renderCart(cart);
  }

  function renderCart(cart) {
    $("cart").replaceChildren(...cart.map((item) => el("li", "", item)));
    $("cart-count").textContent = String(cart.length);
    $("cart-empty").hidden = cart.length > 0;
  }

  function renderSessions(sessions) {
    $("sessions-count").textContent = String(sessions.length);
    $("sessions").replaceChildren(
      ...sessions.map((info) => {
        const row = el("li", "session");
        row.dataset.current = String(info.current);
        const text = el("div");
        const title = el("div", "session-title", info.current ? "This device" : "Another device");
        if (info.current) title.append(el("span", "current", "current"));
        title.append(el("span", "handle", info.handle.slice(0, 8)));
        text.append(
          title,
          el(
            "div",
            "session-meta",
            "signed in " + clock(info.createdAt) + " \u00b7 last seen " + clock(info.lastSeenAt) +
              " \u00b7 ends " + clock(info.expiresAt) + " if idle",
          ),
        );
        const revoke = el("button", "danger small", "Revoke");
        revoke.type = "button";
        revoke.addEventListener("click", () => busy(revoke, () => revokeOne(info.handle)));
        row.append(text, revoke);
        return row;
      }),
    );
  }

  async function busy(button, action) {
    button.disabled = true;
    try {
      await action();
    } finally {
      button.disabled = false;
    }
  }

  async function loadState(action) {
    const { status, data } = await request(action, "GET", "/demo/api/state");
    if (status !== 200) return;
    if (data.user === null) signedOut();
    else {
      signedIn(data.user, data.cart);
      await loadSessions();
    }
  }

  async function loadSessions() {
    const { status, data } = await request("your sessions", "GET", "/demo/api/sessions");
    if (status === 200) renderSessions(data);
  }

  async function add(item) {
    const { status, data } = await request("add to cart", "POST", "/demo/api/cart", { item });
    if (status === 200 || status === 409) renderCart(data.cart);
    return status === 200;
  }

  async function addTen() {
    notice("");
    const base = ($("item").value.trim() || "item").slice(0, 34);
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        request("add " + (i + 1) + "/10 (parallel)", "POST", "/demo/api/cart", { item: base + " #" + (i + 1) }),
      ),
    );
    const landed = results.filter((r) => r.status === 200).length;
    if (results.some((r) => r.status === 401)) return;
    await loadState("cart after ten parallel adds");
    notice(landed + " of 10 parallel adds landed, each one update() (compare-and-set, retried on conflict).");
  }

  async function revokeOne(handle) {
    const { status, data } = await request("revoke a session", "POST", "/demo/api/sessions/revoke", { handle });
    if (status !== 200) return;
    if (data.signedOut) signedOut("You revoked this device's session: signed out.");
    else await loadSessions();
  }

  $("sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $("name");
    const { status, data } = await request("sign in", "POST", "/demo/api/sign-in", { name: input.value });
    if (status !== 200) return;
    input.value = "";
    notice("");
    signedIn(data.user, data.cart);
    await loadSessions();
  });

  $("cart-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $("item");
    notice("");
    if (await add(input.value)) input.value = "";
  });

  $("add-ten").addEventListener("click", (event) => busy(event.currentTarget, addTen));
  $("refresh-sessions").addEventListener("click", (event) => busy(event.currentTarget, loadSessions));
  $("sign-out").addEventListener("click", (event) =>
    busy(event.currentTarget, async () => {
      const { status } = await request("sign out", "POST", "/demo/api/sign-out");
      if (status === 200) signedOut("Signed out.");
    }),
  );
  $("sign-out-everywhere").addEventListener("click", (event) =>
    busy(event.currentTarget, async () => {
      const { status, data } = await request("sign out everywhere", "POST", "/demo/api/sessions/revoke-all");
      if (status === 200) signedOut("Signed out everywhere: " + data.revoked + " sessions ended.");
    }),
  );

  loadState("load the page");
})();
`;
