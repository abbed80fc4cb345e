// Small helpers to build the DOM without HTML strings, so that no text from
// the server is ever parsed as markup.

// h makes an element: attrs are set as attributes, except on* functions
// (listeners) and boolean true/false (present or absent); children are
// nodes or text.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// field makes a labelled input; the label's text names it for people and tests.
export function field(label, attrs = {}) {
  const id = attrs.id || "f-" + Math.random().toString(36).slice(2, 9);
  const input = h("input", { ...attrs, id });
  return { input, el: h("div", { class: "field" }, h("label", { for: id }, label), input) };
}

export function checkbox(label, attrs = {}) {
  const input = h("input", { type: "checkbox", ...attrs });
  return { input, el: h("label", { class: "check" }, input, " ", label) };
}

export function when(date) {
  if (!date) return "";
  const d = new Date(date);
  return isNaN(d) ? String(date) : d.toLocaleString();
}

// dialog opens a modal with a form; submit(form) may throw to keep it open.
export function dialog(title, body, submitLabel, submit) {
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const form = h("form", { class: "stack" },
    h("h2", {}, title), body, error,
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "primary" }, submitLabel),
      h("button", { type: "button", onclick: () => dlg.close() }, "Cancel")));
  const dlg = h("dialog", { "aria-label": title }, form);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await submit(form);
      dlg.close();
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
  });
  dlg.addEventListener("close", () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  return dlg;
}

// pager renders "a–b of n" with Previous and Next buttons.
export function pager(offset, limit, total, go) {
  const last = Math.min(offset + limit, total);
  return h("div", { class: "pager" },
    h("button", { type: "button", disabled: offset <= 0, onclick: () => go(Math.max(0, offset - limit)) }, "Previous"),
    h("span", {}, total ? `${offset + 1}–${last} of ${total}` : "none"),
    h("button", { type: "button", disabled: last >= total, onclick: () => go(offset + limit) }, "Next"));
}
