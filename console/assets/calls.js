// The call log page: an overview of every method over the last hour,
// which opens first, and one method's charts and log with filters
// (#/calls?method=<id>).
import { h, field, checkbox, when, pager } from "./dom.js";
import { chart, callSeries, runtimeSeries } from "./charts.js";

const api = "/v1/admin/api-call-log/";
const ms = (v) => (Math.round((Number(v) || 0) * 100) / 100).toString();
const count = (v) => String(Math.round(Number(v) || 0));

// The overview's columns: what each counts is in the legend under it.
const columns = [
  { key: "calls", label: "Calls", format: count },
  { key: "ok", label: "OK", format: count },
  { key: "errors", label: "Errors", format: count },
  { key: "exceptions", label: "Exceptions", format: count },
  { key: "declined", label: "Declined", format: count },
  { key: "avg_runtime", label: "Average, ms", format: ms, runtime: true },
  { key: "p95_runtime", label: "95th percentile, ms", format: ms, runtime: true },
  { key: "max_runtime", label: "Maximum, ms", format: ms, runtime: true },
];

const legend = "Calls = OK + Errors + Declined. OK and Errors are the accepted calls: the method ran, or refused its parameters; " +
  "Errors include the Exceptions (internal errors and panics). Declined calls were refused for permissions or a rate limit. " +
  "Runtimes are of the accepted calls; the 95th percentile is estimated, within a quarter.";

const methodLink = (id) => "#/calls?method=" + encodeURIComponent(id);

// cell draws a row's number of col; a runtime without accepted calls is none.
function cell(col, row) {
  const v = row[col.key];
  const none = v === null || v === undefined || (col.runtime && !(row.ok + row.errors));
  return h("td", { class: "num", "data-col": col.key, "data-value": v ?? "" }, none ? "—" : col.format(v));
}

// callsPage draws the overview, or with ?method= that method.
export async function callsPage(app, query) {
  const method = query.get("method");
  return method ? methodPage(app, method) : overviewPage(app);
}

async function overviewPage(app) {
  const { client, run, main, every } = app;
  const table = h("div", { class: "scroll", id: "overview" });
  const active = checkbox("Only methods with calls", { name: "active", checked: true });
  const span = h("p", { class: "muted", id: "overview-window", "aria-live": "off" });
  async function load() {
    const r = await run(() => client.call(api + "read-overview"));
    if (!r) return;
    const rows = (Array.isArray(r.data) ? r.data : []).slice()
      .sort((a, b) => b.calls - a.calls || (a.method_id < b.method_id ? -1 : 1));
    const all = { calls: 0, ok: 0, errors: 0, exceptions: 0, declined: 0, max_runtime: 0, avg_runtime: 0, p95_runtime: null };
    let accepted = 0;
    for (const o of rows) {
      for (const k of ["calls", "ok", "errors", "exceptions", "declined"]) all[k] += o[k];
      all.max_runtime = Math.max(all.max_runtime, o.max_runtime);
      all.avg_runtime += o.avg_runtime * (o.ok + o.errors);
      accepted += o.ok + o.errors;
    }
    all.avg_runtime = accepted ? all.avg_runtime / accepted : 0;
    const shown = active.input.checked ? rows.filter((o) => o.calls > 0) : rows;
    table.replaceChildren(h("table", {},
      h("thead", {}, h("tr", {}, h("th", {}, "Method"), columns.map((c) => h("th", { class: "num" }, c.label)))),
      h("tbody", {},
        h("tr", { class: "total", "data-method": "" }, h("th", { scope: "row" }, "All methods"), columns.map((c) => cell(c, all))),
        shown.map((o) => h("tr", { "data-method": o.method_id },
          h("th", { scope: "row" }, h("a", { href: methodLink(o.method_id) }, o.method_id)),
          columns.map((c) => cell(c, o)))))));
    span.textContent = `From ${when(r.meta?.from)} to ${when(r.meta?.to)}; updated ${new Date().toLocaleTimeString()}.`;
  }
  active.input.addEventListener("change", load);
  main.append(h("section", { class: "card stack" },
    h("h2", {}, "Every method, last 60 minutes"), active.el, table, h("p", { class: "muted legend-text" }, legend), span));
  await load();
  every(load);
}

async function methodPage(app, method) {
  const { client, run, main, every, pageSize } = app;
  const summary = h("dl", { id: "summary", class: "summary" });
  const latest = h("div", { class: "charts", id: "latest" });
  const history = h("div", { class: "charts", id: "history" });
  const log = h("div", { class: "list", id: "log" });
  let offset = 0;

  function draw(into, buckets, span) {
    into.replaceChildren(
      chart(`Calls, ${span}`, buckets, callSeries, "calls", count, "Calls"),
      chart(`Runtime, ${span}`, buckets, runtimeSeries, "ms", ms));
  }
  const bucketsOf = (data) => (Array.isArray(data) ? data[0] : data)?.buckets ?? [];

  async function loadSummary() {
    const r = await run(() => client.call(api + "read-overview"));
    const o = (Array.isArray(r?.data) ? r.data : []).find((x) => x.method_id === method);
    if (!o) return;
    summary.replaceChildren(...columns.flatMap((c) => [h("dt", {}, c.label), h("dd", { "data-col": c.key, "data-value": o[c.key] }, c.format(o[c.key]))]));
  }
  async function pollLatest() {
    const r = await run(() => client.call(api + "read-latest-stat", method));
    if (!r) return;
    draw(latest, bucketsOf(r.data), "last 60 minutes");
    loadSummary();
    if (offset === 0) loadLog(); // the newest calls, as they are written
  }
  async function pollHistory() {
    const r = await run(() => client.call(api + "read-history-stat", method));
    if (r) draw(history, bucketsOf(r.data), "last 30 days");
  }

  // The log's filters, as read-log's where.
  const outcome = h("select", { id: "outcome", name: "outcome" },
    [["", "All"], ["ok", "OK"], ["errors", "Errors"], ["exceptions", "Exceptions"], ["declined", "Declined"]]
      .map(([v, t]) => h("option", { value: v }, t)));
  const status = field("Status code", { name: "status", inputmode: "numeric", placeholder: "any" });
  const user = field("User id", { name: "user", placeholder: "any, or guest" });
  const addr = field("Client address", { name: "address", placeholder: "any" });
  const from = field("From", { name: "from", type: "datetime-local" });
  const to = field("To", { name: "to", type: "datetime-local" });
  const filters = h("form", { class: "inline filters", id: "filters" },
    h("div", { class: "field" }, h("label", { for: "outcome" }, "Outcome"), outcome),
    status.el, user.el, addr.el, from.el, to.el,
    h("button", { type: "submit", class: "primary" }, "Filter"),
    h("button", { type: "reset" }, "Clear"));
  filters.addEventListener("submit", (e) => { e.preventDefault(); offset = 0; loadLog(); });
  filters.addEventListener("reset", () => setTimeout(() => { offset = 0; loadLog(); }));

  function where() {
    const w = { method_id: method };
    const o = outcome.value;
    if (o === "ok") w.is_error = false;
    if (o === "errors") Object.assign(w, { is_error: true, is_declined: false });
    if (o === "exceptions") w.is_exception = true;
    if (o === "declined") w.is_declined = true;
    const s = status.input.value.trim();
    if (s) w.status = /^-?\d+$/.test(s) ? Number(s) : s; // the server says what is wrong
    const u = user.input.value.trim();
    if (u) w.user_id = u.toLowerCase() === "guest" ? null : u;
    const a = addr.input.value.trim();
    if (a) w.remote_address = a;
    if (from.input.value) w.date_from = [">=", new Date(from.input.value).toISOString()];
    if (to.input.value) w.date_to = ["<=", new Date(to.input.value).toISOString()];
    return w;
  }
  async function loadLog() {
    const r = await run(() => client.call(api + "read-log", { where: where(), limit: pageSize, offset }));
    if (!r) return;
    const rows = Array.isArray(r.data) ? r.data : [];
    const total = r.meta?.total ?? rows.length;
    log.replaceChildren(
      h("div", { class: "scroll" }, h("table", {},
        h("thead", {}, h("tr", {}, ["Started", "User", "Address", "Status", "Message", "Runtime, ms"].map((t) => h("th", {}, t)))),
        h("tbody", {}, rows.map((c) => h("tr", { class: c.is_exception ? "exception" : c.is_error ? "failed" : "" },
          h("td", {}, when(c.date ?? c.started)), h("td", {}, c.user_id ?? "guest"), h("td", {}, c.remote_address ?? "—"),
          h("td", {}, c.status), h("td", {}, c.status_text), h("td", { class: "num" }, ms(c.runtime))))))),
      r.meta?.partial ? h("p", { class: "muted" }, `Counted among the newest rows only: calls from ${when(r.meta.scanned_to)} back were not examined; narrow the dates.`) : null,
      pager(offset, pageSize, total, (o) => { offset = o; loadLog(); }));
  }

  main.append(
    h("p", {}, h("a", { href: "#/calls" }, "← Every method")),
    h("section", { class: "card stack" }, h("h2", { id: "method-id" }, method), h("p", { class: "muted" }, "Last 60 minutes"), summary,
      h("p", { class: "muted legend-text" }, legend)),
    h("section", { class: "card" }, h("h2", {}, "Last 60 minutes"), latest),
    h("section", { class: "card" }, h("h2", {}, "Last 30 days"), history),
    h("section", { class: "card stack" }, h("h2", {}, "Log"), filters, log));
  pollLatest();
  pollHistory();
  every(pollLatest);
  every(pollHistory, 60000);
}
