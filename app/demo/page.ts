/**
 * The demo page: static markup only (no user data is ever put in it; the script fills it in with
 * textContent). Served at GET / with a Content-Security-Policy that allows only this origin's script and
 * style sheet.
 */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>hono-edge-session demo</title>
    <link rel="stylesheet" href="/demo/app.css" />
    <script src="/demo/app.js" defer></script>
  </head>
  <body>
    <header class="top">
      <div>
        <h1>hono-edge-session <span class="tag">demo</span></h1>
        <p class="lead">
          Sessions live in the isolate's memory and are backed up, sealed, to the store (under
          <code>npm start</code>, the Durable Object store). Every action below logs what the session layer did
          for it, from the response's <code>Server-Timing</code> header.
        </p>
      </div>
      <div id="who" class="who" hidden>
        <span>Signed in as <strong id="who-name"></strong></span>
        <button type="button" id="sign-out" class="secondary">Sign out</button>
      </div>
    </header>

    <p id="notice" class="notice" role="status" hidden></p>

    <main class="grid">
      <div class="column">
        <section id="sign-in" class="card" hidden>
          <h2>Sign in</h2>
          <p class="hint">Any name (1 to 40 printable characters): there is no password in this demo.</p>
          <form id="sign-in-form" class="row" autocomplete="off">
            <input id="name" name="name" type="text" maxlength="40" required placeholder="Your name" aria-label="Name" />
            <button type="submit">Sign in</button>
          </form>
        </section>

        <section id="cart-card" class="card" hidden>
          <h2>Cart <span id="cart-count" class="count">0</span></h2>
          <form id="cart-form" class="row" autocomplete="off">
            <input id="item" name="item" type="text" maxlength="40" required placeholder="An item" aria-label="Item" />
            <button type="submit">Add</button>
            <button type="button" id="add-ten" class="secondary" title="Ten POSTs at once, each an update()">
              Add ten in parallel
            </button>
          </form>
          <p id="cart-empty" class="hint">The cart is empty.</p>
          <ol id="cart" class="items"></ol>
        </section>

        <section id="sessions-card" class="card" hidden>
          <h2>Your sessions <span id="sessions-count" class="count">0</span></h2>
          <p class="hint">Every device signed in with this name. Revoking one ends it on every isolate.</p>
          <ul id="sessions" class="sessions"></ul>
          <div class="row end">
            <button type="button" id="refresh-sessions" class="secondary">Refresh</button>
            <button type="button" id="sign-out-everywhere" class="danger">Sign out everywhere</button>
          </div>
        </section>
      </div>

      <section class="card log-card" aria-labelledby="log-title">
        <h2 id="log-title">What the session layer did</h2>
        <p class="hint">
          Newest first. <em>hit</em>: served from this isolate's memory; <em>revalidated</em>/<em>miss</em>: read
          from the store; <em>new</em>: no session yet. Round trips are calls to the store.
        </p>
        <ol id="log" class="log"></ol>
      </section>
    </main>
  </body>
</html>
`;
