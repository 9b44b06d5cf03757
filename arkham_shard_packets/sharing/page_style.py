"""The share viewer page's stylesheet, inlined in the page, which loads no external asset."""

STYLE = """
:root { color-scheme: light; --ink: #1d232b; --muted: #5b6570; --line: #d8dde3;
  --panel: #f5f7f9; --accent: #1f5f8b; --warn: #8a3b12; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--ink); background: #fff; }
main { max-width: 60rem; margin: 0 auto; padding: 1.25rem 1rem 3rem; }
h1 { font-size: 1.6rem; line-height: 1.25; margin: .2rem 0 .5rem; overflow-wrap: anywhere; }
h2 { font-size: 1.15rem; margin: 2rem 0 .6rem; }
.kicker { margin: 0; color: var(--muted); font-size: .85rem; text-transform: uppercase;
  letter-spacing: .06em; }
.description { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0 0 1rem; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: .35rem 1rem;
  background: var(--panel); border: 1px solid var(--line); border-radius: 6px;
  padding: .9rem 1rem; margin: 0; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; overflow-wrap: anywhere; }
code { font: .9em/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; overflow-wrap: anywhere; }
.status { display: inline-block; padding: 0 .5rem; border-radius: 999px; font-size: .9em;
  border: 1px solid var(--line); background: #fff; }
.table-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; }
table { border-collapse: collapse; width: 100%; min-width: 32rem; }
th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid var(--line);
  vertical-align: top; overflow-wrap: anywhere; }
th { background: var(--panel); font-weight: 600; white-space: nowrap; }
tr:last-child td { border-bottom: 0; }
.comments { list-style: none; padding: 0; margin: 0; }
.comments li { border-left: 3px solid var(--line); padding: .2rem 0 .2rem .8rem;
  margin-bottom: .8rem; }
.comments .meta { margin: 0; color: var(--muted); font-size: .9rem; }
.comments .body { margin: .2rem 0 0; white-space: pre-wrap; overflow-wrap: anywhere; }
form { display: grid; gap: .5rem; max-width: 32rem; }
label { font-weight: 600; }
input, textarea { font: inherit; padding: .45rem .55rem; border: 1px solid #aab3bd;
  border-radius: 4px; width: 100%; }
textarea { min-height: 6rem; }
button { font: inherit; padding: .5rem 1rem; border: 0; border-radius: 4px;
  background: var(--accent); color: #fff; justify-self: start; cursor: pointer; }
.broken { color: var(--warn); }
.problems { margin: .3rem 0 0; padding-left: 1.2rem; }
.notice { border: 1px solid var(--line); border-left: 4px solid var(--warn);
  background: #fff8f3; padding: .8rem 1rem; border-radius: 4px; }
.muted { color: var(--muted); font-size: .9em; }
form.download { display: inline; }
form.download button { padding: .2rem .6rem; }
footer { margin-top: 2.5rem; color: var(--muted); font-size: .85rem; }
@media (max-width: 40rem) {
  table { min-width: 0; }
  thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  table, tbody, tr, td { display: block; }
  tr { border-bottom: 1px solid var(--line); padding: .35rem 0; }
  tr:last-child { border-bottom: 0; }
  td { border: 0; padding: .15rem .7rem; display: grid; grid-template-columns: 6.5rem 1fr;
    gap: .5rem; }
  td::before { content: attr(data-label); color: var(--muted); }
}
@media (max-width: 30rem) {
  .facts { grid-template-columns: 1fr; gap: 0; }
  .facts dd { margin-bottom: .5rem; }
  h1 { font-size: 1.35rem; }
}
"""
