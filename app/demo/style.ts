/** The demo page's style sheet: system fonts, cards, one accent colour. */
export const STYLE_CSS = `:root {
  --bg: #f5f6f8;
  --card: #fff;
  --text: #1d2330;
  --muted: #5f6877;
  --line: #e2e5ea;
  --accent: #e8590c;
  --accent-dark: #c2410c;
  --danger: #c92a2a;
  --ok: #2b8a3e;
  --mono: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
  color-scheme: light;
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body {
  margin: 0 auto;
  max-width: 1180px;
  padding: 24px;
  background: var(--bg);
  color: var(--text);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
}
h1 { margin: 0; font-size: 24px; }
h2 { margin: 0 0 8px; font-size: 17px; display: flex; align-items: center; gap: 8px; }
code { font-family: var(--mono); font-size: 0.92em; }
.top { display: flex; justify-content: space-between; align-items: flex-start; gap: 24px; margin-bottom: 16px; }
.lead { margin: 4px 0 0; color: var(--muted); max-width: 640px; }
.tag { font-size: 12px; font-weight: 600; color: var(--accent); border: 1px solid var(--accent); border-radius: 99px; padding: 1px 8px; vertical-align: middle; }
.who { display: flex; align-items: center; gap: 12px; white-space: nowrap; padding-top: 4px; }
.notice { background: #fff4e6; border: 1px solid #ffd8a8; border-radius: 8px; padding: 8px 12px; margin: 0 0 16px; }
.grid { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 16px; align-items: start; }
.column { display: grid; gap: 16px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 16px 18px; box-shadow: 0 1px 2px rgb(0 0 0 / 4%); }
.hint { color: var(--muted); font-size: 13px; margin: 0 0 12px; }
.row { display: flex; gap: 8px; flex-wrap: wrap; align-items: center; }
.row.end { justify-content: flex-end; margin-top: 12px; }
.count { font-size: 12px; font-weight: 600; background: var(--bg); border: 1px solid var(--line); border-radius: 99px; padding: 0 8px; color: var(--muted); }
input[type="text"] { flex: 1 1 160px; min-width: 0; font: inherit; padding: 7px 10px; border: 1px solid #cdd2da; border-radius: 7px; background: #fff; color: inherit; }
input[type="text"]:focus { outline: 2px solid #ffc9a3; border-color: var(--accent); }
button { font: inherit; font-size: 14px; padding: 7px 14px; border-radius: 7px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; }
button:hover { background: var(--accent-dark); border-color: var(--accent-dark); }
button:disabled { opacity: 0.55; cursor: default; }
button.secondary { background: #fff; color: var(--text); border-color: #cdd2da; }
button.secondary:hover { background: var(--bg); }
button.danger { background: #fff; color: var(--danger); border-color: #f1aeb5; }
button.danger:hover { background: #fff5f5; }
button.small { font-size: 13px; padding: 3px 10px; }
.items { margin: 12px 0 0; padding: 0 0 0 28px; columns: 2; column-gap: 24px; }
.items li { padding: 2px 0; break-inside: avoid; overflow-wrap: anywhere; }
.sessions { list-style: none; margin: 0; padding: 0; }
.sessions li { display: flex; align-items: center; justify-content: space-between; gap: 12px; padding: 10px 0; border-top: 1px solid var(--line); }
.sessions li:first-child { border-top: 0; }
.session-title { font-weight: 600; display: flex; align-items: center; gap: 8px; }
.session-meta { color: var(--muted); font-size: 13px; }
.handle { font-family: var(--mono); font-size: 12px; color: var(--muted); }
.current { font-size: 11px; font-weight: 700; letter-spacing: 0.03em; text-transform: uppercase; color: var(--ok); border: 1px solid #b2f2bb; background: #ebfbee; border-radius: 99px; padding: 0 7px; }
.log-card { position: sticky; top: 16px; }
.log { list-style: none; margin: 0; padding: 0; max-height: 70vh; overflow: auto; }
.log li { padding: 8px 0; border-top: 1px solid var(--line); }
.log li:first-child { border-top: 0; }
.log-head { display: flex; align-items: baseline; gap: 8px; flex-wrap: wrap; }
.log-action { font-weight: 600; }
.log-request { font-family: var(--mono); font-size: 12px; color: var(--muted); }
.log-time { margin-left: auto; font-size: 12px; color: var(--muted); font-variant-numeric: tabular-nums; }
.status { font-family: var(--mono); font-size: 12px; font-weight: 700; color: var(--ok); }
.status.bad { color: var(--danger); }
.chips { display: flex; flex-wrap: wrap; gap: 4px; margin-top: 4px; }
.chip { font-size: 12px; border-radius: 5px; padding: 0 6px; background: var(--bg); border: 1px solid var(--line); }
.chip.tier-hit { background: #ebfbee; border-color: #b2f2bb; }
.chip.tier-revalidated, .chip.tier-miss { background: #e7f5ff; border-color: #a5d8ff; }
.chip.tier-new { background: #fff9db; border-color: #ffec99; }
.raw { display: block; margin-top: 4px; font-size: 11px; color: var(--muted); overflow-wrap: anywhere; }
@media (max-width: 820px) {
  .grid { grid-template-columns: 1fr; }
  .top { flex-direction: column; }
  .log-card { position: static; }
}
`;
