// The audit trail page: who changed what, from where, newest first, with
// filters by actor, target, action and a range of times. The filters
// follow the page's name (#/audit?actor_id=5&action=users.delete), so a
// filtered view can be linked to.
import { h, field, when, pager } from "./dom.js";

const filters = [
  { key: "actor_id", label: "Actor id", attrs: { inputmode: "numeric" } },
  { key: "target_id", label: "Target id" },
  { key: "action", label: "Action", attrs: { placeholder: "users.delete" } },
  { key: "from", label: "From", attrs: { type: "datetime-local" } },
  { key: "to", label: "To", attrs: { type: "datetime-local" } },
];

// where builds read's conditions from the filters' values.
function where(values) {
  const w = {};
  for (const k of ["actor_id", "target_id", "action"]) if (values[k]) w[k] = values[k];
  const at = (v) => new Date(v).toISOString();
  if (values.from) w.created_from = [">=", at(values.from)];
  if (values.to) w.created_to = ["<", at(values.to)];
  return w;
}

// changes draws the fields a change set, one per line.
function changes(c) {
  const entries = Object.entries(c || {});
  if (!entries.length) return "";
  return h("ul", { class: "changes" }, entries.map(([k, v]) => h("li", {}, h("code", {}, k), " ", JSON.stringify(v))));
}

function actor(r) {
  if (r.actor_kind === "guest") return "guest";
  const by = r.actor_token_id ? `${r.actor_kind} ${r.actor_token_id}` : r.actor_kind;
  return `user ${r.actor_id} (${by})`;
}

export async function auditPage(app, query) {
  const { client, run, main, pageSize } = app;
  let offset = 0;
  const inputs = {};
  const form = h("form", { class: "inline filters", id: "audit-filters" });
  for (const f of filters) {
    const { el, input } = field(f.label, { name: f.key, value: query.get(f.key) ?? "", ...f.attrs });
    inputs[f.key] = input;
    form.append(el);
  }
  form.append(h("button", { type: "submit", class: "primary" }, "Filter"));
  const list = h("div", { class: "list", id: "audit" });

  function values() {
    return Object.fromEntries(filters.map((f) => [f.key, inputs[f.key].value.trim()]));
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const q = new URLSearchParams(Object.entries(values()).filter(([, v]) => v));
    history.replaceState(null, "", "#/audit" + (q.size ? "?" + q : ""));
    offset = 0;
    load();
  });

  async function load() {
    const v = values();
    const options = { limit: pageSize, offset, where: where(v) };
    const res = await run(() => client.call("/v1/admin/audit/read", options));
    if (!res) return;
    const rows = Array.isArray(res.data) ? res.data : [];
    const total = res.meta?.total ?? rows.length;
    list.replaceChildren(
      h("div", { class: "scroll" }, h("table", {},
        h("thead", {}, h("tr", {}, ["When", "Action", "Actor", "Target", "Changes", "Address", "User agent", "Result"].map((c) => h("th", {}, c)))),
        h("tbody", {}, rows.map((r) => h("tr", { "data-id": r.id, "data-action": r.action },
          h("td", {}, when(r.created)),
          h("td", {}, h("code", {}, r.action)),
          h("td", { "data-col": "actor" }, actor(r)),
          h("td", { "data-col": "target" }, r.target_id ?? ""),
          h("td", { class: "wide" }, changes(r.changes)),
          h("td", { "data-col": "address" }, r.remote_address ?? ""),
          h("td", { class: "wide muted" }, r.user_agent ?? ""),
          h("td", { "data-col": "result", class: r.result === "ok" ? "" : "error" }, r.result)))))),
      pager(offset, pageSize, total, (o) => { offset = o; load(); }));
  }

  main.append(h("section", { class: "card stack" }, form, list));
  await load();
}
