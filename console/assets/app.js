// The console's pages and router. Routes are URL fragments (#/users), so
// the console works under whatever path the host mounts it at.
import { Client } from "./rpc.js";
import { h, field, checkbox, when, dialog, pager } from "./dom.js";
import { callsPage } from "./calls.js";
import { securityPage, userSessions } from "./security.js";
import { auditPage } from "./audit.js";
import { secondStep, removeFactors } from "./factors.js";
import { passkeySignin } from "./passkeys.js";

const api = document.querySelector('meta[name="authrpc-api"]').content || "/api/";
const adminPermission = document.querySelector('meta[name="authrpc-admin-permission"]').content;
const tokenKey = "authrpc.console.token";
const oauthKey = "authrpc.console.oauth"; // the provider of the sign-in under way
const pageSize = 20;
const pollEvery = 5000;

const state = { auth: null, page: null, stop: [] };
const client = new Client(api, { onEvent, onSignout: () => signedOut("You were signed out.") });
const main = document.getElementById("main");
const nav = document.getElementById("nav");
const notice = document.getElementById("notice");
const eventHandlers = new Set();

function onEvent(name, args) {
  for (const fn of eventHandlers) fn(name, args);
}

function can(perm) {
  if (!state.auth) return false;
  return state.auth.user_id === "1" || state.auth.permissions?.[perm] === true;
}

function say(text, kind = "info") {
  notice.textContent = text;
  notice.className = kind;
  notice.hidden = !text;
}

function fail(err) {
  say(err.message || String(err), "error");
}

// run calls fn and shows its refusal; it answers undefined then.
async function run(fn) {
  try {
    return await fn();
  } catch (err) {
    fail(err);
    return undefined;
  }
}

const pages = [
  { path: "users", label: "Users", perm: adminPermission, render: usersPage },
  { path: "tokens", label: "API tokens", perm: "user", render: tokensPage },
  { path: "settings", label: "Settings", perm: adminPermission, render: settingsPage },
  { path: "calls", label: "Call log", perm: adminPermission, render: (query) => callsPage(app, query) },
  { path: "audit", label: "Audit trail", perm: adminPermission, render: (query) => auditPage(app, query) },
  { path: "profile", label: "Profile", perm: "user", render: profilePage },
  { path: "security", label: "Security", perm: "user", render: () => securityPage(app) },
];

function allowed(p) {
  return p.perm === "user" ? !!state.auth : can(p.perm);
}

function renderNav() {
  nav.replaceChildren();
  if (!state.auth) return;
  const [current] = location.hash.replace(/^#\/?/, "").split("?");
  for (const p of pages.filter(allowed)) {
    nav.append(h("a", { href: "#/" + p.path, "aria-current": p.path === current ? "page" : false }, p.label));
  }
  nav.append(h("button", { type: "button", class: "link", onclick: signout }, "Sign out"));
}

function leavePage() {
  for (const stop of state.stop) stop();
  state.stop = [];
  eventHandlers.clear();
}

async function route() {
  leavePage();
  say("");
  if (!state.auth) {
    renderNav();
    signinPage();
    return;
  }
  // A page's own state may follow its name: #/calls?method=/v1/x.
  const [name, search = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const list = pages.filter(allowed);
  const page = list.find((p) => p.path === name) || list[0];
  if (page.path !== name) {
    history.replaceState(null, "", "#/" + page.path);
  }
  renderNav();
  document.title = page.label + " · " + document.querySelector("title").dataset.base;
  main.replaceChildren(h("h1", {}, page.label));
  main.focus({ preventScroll: true });
  await page.render(new URLSearchParams(page.path === name ? search : ""));
}

// --- Sign in ----------------------------------------------------------------

function signinPage() {
  const user = field("Username", { name: "username", autocomplete: "username", required: true });
  const pass = field("Password", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const form = h("form", { class: "card stack signin" },
    h("h1", {}, "Sign in"), user.el, pass.el,
    h("button", { type: "submit", class: "primary" }, "Sign in"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    let res;
    try {
      res = await client.call("/v1/session/signin", { username: user.input.value, password: pass.input.value });
    } catch (err) {
      // A user with a second factor: the password was right, a code is next.
      if (err.meta?.second_factor) secondStep(app, form, err.meta.second_factor, signedIn);
      else fail(err);
      return;
    }
    signedIn(res);
  });
  main.replaceChildren(form);
  user.input.focus();
  oauthButtons(form);
  passkeySignin(form, { client, run, signedIn });
}

// signedIn keeps the session a sign-in answered and opens the console; a
// user who must enrol a second factor first goes to the Security page.
async function signedIn(res) {
  sessionStorage.setItem(tokenKey, res.data.token);
  client.setToken(res.data.token);
  state.auth = res.data.auth;
  const f = await client.call("/v1/profile/get-second-factors").catch(() => null);
  if (f?.data?.required) history.replaceState(null, "", "#/security");
  route();
}

// redirectURL is where providers send the browser back to: this page,
// without query or fragment. The host lists it in oauth_redirect_urls.
function redirectURL() {
  return location.origin + location.pathname;
}

// oauthButtons adds "Sign in with …" for each configured provider.
async function oauthButtons(form) {
  let res;
  try {
    res = await client.call("/v1/session/get-oauth-providers");
  } catch {
    return; // no OAuth on this server
  }
  const providers = Array.isArray(res.data) ? res.data : [];
  if (!providers.length) return;
  const list = h("div", { class: "stack oauth" }, h("p", { class: "muted" }, "or"));
  for (const p of providers) {
    list.append(h("button", { type: "button", "data-provider": p.name, onclick: () => beginOAuth(p.name) }, "Sign in with " + p.name));
  }
  form.append(list);
}

async function beginOAuth(provider) {
  const res = await run(() => client.call("/v1/session/oauth-url", provider, redirectURL()));
  if (!res) return;
  sessionStorage.setItem(oauthKey, provider);
  location.assign(res.data.url);
}

// finishOAuth completes a sign-in the provider sent the browser back from
// (?code=…&state=…, or ?error=…): the callback page. It answers whether
// the browser came back from one.
async function finishOAuth() {
  const q = new URLSearchParams(location.search);
  const provider = sessionStorage.getItem(oauthKey);
  if (!provider || !(q.has("code") || q.has("error"))) return false;
  sessionStorage.removeItem(oauthKey);
  history.replaceState(null, "", location.pathname + "#/");
  if (q.has("error")) {
    route().then(() => say(`Sign-in with ${provider} failed: ${q.get("error_description") || q.get("error")}`, "error"));
    return true;
  }
  main.replaceChildren(h("p", { class: "muted", id: "oauth-progress" }, `Signing in with ${provider}…`));
  let res;
  try {
    res = await client.call("/v1/session/signin", {
      oauth_provider: provider, oauth_code: q.get("code"), oauth_redirect_url: redirectURL(), oauth_state: q.get("state") || "",
    });
  } catch (err) {
    if (err.meta?.second_factor) {
      await route();
      secondStep(app, main.querySelector("form.signin"), err.meta.second_factor, signedIn);
      return true;
    }
    fail(err);
  }
  if (res) {
    sessionStorage.setItem(tokenKey, res.data.token);
    client.setToken(res.data.token);
    state.auth = res.data.auth;
  }
  const message = notice.hidden ? "" : notice.textContent;
  await route();
  if (!res && message) say(message, "error");
  return true;
}

async function signout() {
  await client.call("/v1/session/signout").catch(() => {});
  signedOut("");
}

function signedOut(message) {
  sessionStorage.removeItem(tokenKey);
  client.setToken("");
  state.auth = null;
  route().then(() => message && say(message));
}

// --- Users ------------------------------------------------------------------

async function usersPage() {
  let offset = 0;
  let search = "";
  const list = h("div", { class: "list" });
  const q = field("Search", { type: "search", name: "search", placeholder: "name, email or telegram" });
  let debounce;
  q.input.addEventListener("input", () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => { search = q.input.value.trim(); offset = 0; load(); }, 250);
  });

  const name = field("New user name", { name: "username", autocomplete: "off", required: true });
  const pass = field("Initial password", { name: "password", type: "password", autocomplete: "new-password", placeholder: "empty: generated" });
  const create = h("form", { class: "inline" }, name.el, pass.el, h("button", { type: "submit", class: "primary" }, "Create user"));
  create.addEventListener("submit", async (e) => {
    e.preventDefault();
    const fields = { username: name.input.value.trim() };
    if (pass.input.value) fields.password = pass.input.value;
    const res = await run(() => client.call("/v1/admin/users/create", fields));
    if (!res) return;
    const u = res.data || {};
    say(u.password && !fields.password ? `Created ${u.name}; password: ${u.password}` : `Created ${u.name}.`);
    create.reset();
    load();
  });

  async function load() {
    const options = { limit: pageSize, offset, order_by: [["id", "desc"]] };
    if (search) options.where = { search: ["like", search] };
    const res = await run(() => client.call("/v1/admin/users/read", options));
    if (!res) return;
    const rows = Array.isArray(res.data) ? res.data : [];
    const total = res.meta?.total ?? rows.length;
    list.replaceChildren(
      h("div", { class: "scroll" }, h("table", {},
        h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", { class: "wide" }, "Email"), h("th", {}, "Enabled"), h("th", {}, "Created"), h("th", {}, "Actions"))),
        h("tbody", {}, rows.map(userRow)))),
      pager(offset, pageSize, total, (o) => { offset = o; load(); }));
  }

  function userRow(u) {
    const self = u.id === state.auth.user_id;
    const act = (label, fn, attrs = {}) => h("button", { type: "button", onclick: fn, ...attrs }, label);
    return h("tr", { "data-user": u.name },
      h("td", {}, u.name), h("td", { class: "wide" }, u.email || ""), h("td", {}, u.enabled ? "yes" : "no"), h("td", {}, when(u.created)),
      h("td", { class: "actions" },
        act(u.enabled ? "Disable" : "Enable", async () => {
          if (await run(() => client.call("/v1/admin/users/set-enabled", u.id, !u.enabled))) load();
        }, { disabled: self, "aria-label": `${u.enabled ? "Disable" : "Enable"} ${u.name}` }),
        act("Password", () => setPassword(u), { "aria-label": `Set password of ${u.name}` }),
        act("Permissions", () => editPermissions(u), { disabled: self, "aria-label": `Permissions of ${u.name}` }),
        act("Rename", () => rename(u), { "aria-label": `Rename ${u.name}` }),
        act("Sessions", () => userSessions(app, u), { "aria-label": `Sessions of ${u.name}` }),
        act("Factors", () => removeFactors(app, u), { "aria-label": `Remove second factors of ${u.name}` }),
        act("Delete", () => remove(u), { disabled: self, class: "danger", "aria-label": `Delete ${u.name}` })));
  }

  function setPassword(u) {
    const p = field("New password", { type: "password", autocomplete: "new-password", placeholder: "empty: generated" });
    dialog(`Set password of ${u.name}`, p.el, "Set password", async () => {
      const args = p.input.value ? [u.id, p.input.value] : [u.id];
      const res = await client.call("/v1/admin/users/set-password", ...args);
      say(p.input.value ? `Password of ${u.name} set.` : `New password of ${u.name}: ${res.data?.password ?? res.data}`);
    });
  }

  function rename(u) {
    const n = field("New name", { value: u.name, required: true, autocomplete: "off" });
    dialog(`Rename ${u.name}`, n.el, "Rename", async () => {
      await client.call("/v1/admin/users/set-username", u.id, n.input.value.trim());
      load();
    });
  }

  function remove(u) {
    dialog(`Delete ${u.name}?`, h("p", {}, "The user, its sessions and its API tokens are deleted."), "Delete", async () => {
      await client.call("/v1/admin/users/delete", u.id);
      load();
    });
  }

  async function editPermissions(u) {
    const res = await run(() => client.call("/v1/admin/users/get-permissions", u.id));
    if (!res) return;
    const boxes = permissionBoxes(res.data);
    dialog(`Permissions of ${u.name}`, boxes.el, "Save permissions", async () => {
      await client.call("/v1/admin/users/set-permissions", u.id, boxes.value());
      say(`Permissions of ${u.name} saved.`);
    });
  }

  main.append(h("section", { class: "card stack" }, h("h2", {}, "Create a user"), create),
    h("section", { class: "card stack" }, q.el, list));
  await load();
}

// permissionBoxes renders get-permissions rows as checkboxes. A row names its
// permission in id (the seed's shape) or in name (this library's first one).
function permissionBoxes(rows) {
  const items = (Array.isArray(rows) ? rows : []).map((r) => {
    const key = r.id ?? r.name;
    const title = r.title ?? r.name ?? key;
    const box = checkbox(`${title} (${key})`, { name: key, checked: !!r.enabled });
    return { key, box };
  });
  return {
    el: h("fieldset", { class: "stack" }, h("legend", {}, "Permissions"),
      items.length ? items.map((i) => i.box.el) : h("p", {}, "No permissions you can grant.")),
    value: () => Object.fromEntries(items.map((i) => [i.key, i.box.input.checked])),
  };
}

// --- API tokens ---------------------------------------------------------------

async function tokensPage() {
  let offset = 0;
  const list = h("div", { class: "list" });
  const shown = h("div", { class: "secret", hidden: true });
  const name = field("Token name", { name: "name", autocomplete: "off", required: true });
  const create = h("form", { class: "inline" }, name.el, h("button", { type: "submit", class: "primary" }, "Create token"));
  create.addEventListener("submit", async (e) => {
    e.preventDefault();
    const res = await run(() => client.call("/v1/api-tokens/create", name.input.value.trim()));
    if (!res) return;
    const text = h("code", { id: "new-token" }, res.data.token);
    const copy = h("button", { type: "button", onclick: async () => {
      try {
        await navigator.clipboard.writeText(res.data.token);
        copy.textContent = "Copied";
      } catch {
        getSelection().selectAllChildren(text);
        copy.textContent = "Selected: press Ctrl+C";
      }
    } }, "Copy");
    shown.replaceChildren(h("p", {}, `Token "${res.data.name}": shown this once; it holds no permissions until given.`), h("div", { class: "inline" }, text, copy));
    shown.hidden = false;
    create.reset();
    load();
  });

  async function load() {
    const res = await run(() => client.call("/v1/api-tokens/read", { limit: pageSize, offset, order_by: [["id", "desc"]] }));
    if (!res) return;
    const rows = Array.isArray(res.data) ? res.data : [];
    list.replaceChildren(
      h("div", { class: "scroll" }, h("table", {},
        h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Enabled"), h("th", {}, "Created"), h("th", {}, "Actions"))),
        h("tbody", {}, rows.map(tokenRow)))),
      pager(offset, pageSize, res.meta?.total ?? rows.length, (o) => { offset = o; load(); }));
  }

  function tokenRow(t) {
    return h("tr", { "data-token": t.name },
      h("td", {}, t.name), h("td", {}, t.enabled ? "yes" : "no"), h("td", {}, when(t.created)),
      h("td", { class: "actions" },
        h("button", { type: "button", "aria-label": `${t.enabled ? "Disable" : "Enable"} token ${t.name}`, onclick: async () => {
          if (await run(() => client.call("/v1/api-tokens/set-enabled", t.id, !t.enabled))) load();
        } }, t.enabled ? "Disable" : "Enable"),
        h("button", { type: "button", "aria-label": `Permissions of token ${t.name}`, onclick: async () => {
          const res = await run(() => client.call("/v1/api-tokens/get-permissions", t.id));
          if (!res) return;
          const boxes = permissionBoxes(res.data);
          dialog(`Permissions of token ${t.name}`, boxes.el, "Save permissions", async () => {
            await client.call("/v1/api-tokens/set-permissions", t.id, boxes.value());
            say(`Permissions of token ${t.name} saved.`);
            load();
          });
        } }, "Permissions"),
        h("button", { type: "button", class: "danger", "aria-label": `Delete token ${t.name}`, onclick: () => {
          dialog(`Delete token ${t.name}?`, h("p", {}, "Calls made with it stop at once."), "Delete", async () => {
            await client.call("/v1/api-tokens/delete", t.id);
            load();
          });
        } }, "Delete")));
  }

  main.append(h("section", { class: "card stack" }, h("h2", {}, "Create a token"), create, shown),
    h("section", { class: "card stack" }, list));
  await load();
}

// --- Settings -------------------------------------------------------------------

const settingFields = [
  { key: "app_url", label: "App URL", type: "url" },
  { key: "smtp_from", label: "SMTP from" },
  { key: "smtp_hostname", label: "SMTP host name" },
  { key: "smtp_port", label: "SMTP port", type: "number", min: 0, max: 65535 },
  { key: "smtp_username", label: "SMTP user name", autocomplete: "off" },
];

const noticeFields = [
  { key: "no_new_signin_mail", label: "Mail a sign-in from a new device" },
  { key: "no_password_changed_mail", label: "Mail a changed password" },
  { key: "no_email_changed_mail", label: "Mail a changed email to the old address" },
];

async function settingsPage() {
  const inputs = {};
  const dirty = new Set();
  const form = h("form", { class: "card stack settings" });
  for (const f of settingFields) {
    const { el, input } = field(f.label, { name: f.key, type: f.type || "text", min: f.min, max: f.max, autocomplete: f.autocomplete });
    inputs[f.key] = input;
    form.append(el);
  }
  const pass = field("SMTP password", { name: "smtp_password", type: "password", autocomplete: "new-password" });
  const signup = checkbox("Signup enabled", { name: "signup_enabled" });
  inputs.smtp_password = pass.input;
  inputs.signup_enabled = signup.input;
  // The security notices, each on unless its no_…_mail setting is set.
  const notices = noticeFields.map((n) => ({ ...n, box: checkbox(n.label, { name: n.key }) }));
  const status = h("p", { class: "muted", id: "settings-status", "aria-live": "polite" });
  const oauth = oauthSettings(dirty);
  form.append(pass.el, signup.el,
    h("fieldset", { class: "stack" }, h("legend", {}, "Security mail"), notices.map((n) => n.box.el)),
    oauth.el,
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "primary" }, "Save"),
      h("button", { type: "button", onclick: testSMTP }, "Test SMTP")),
    status);
  form.addEventListener("input", (e) => e.target.name && dirty.add(e.target.name));

  function fill(s, onlyClean) {
    for (const f of settingFields) {
      if (onlyClean && dirty.has(f.key)) continue;
      inputs[f.key].value = s[f.key] ?? "";
    }
    if (!(onlyClean && dirty.has("signup_enabled"))) inputs.signup_enabled.checked = !!s.signup_enabled;
    for (const n of notices) {
      if (!(onlyClean && dirty.has(n.key))) n.box.input.checked = !s[n.key];
    }
    if (!dirty.has("smtp_password")) {
      pass.input.value = "";
      pass.input.placeholder = s.smtp_password_set ? "stored; type to replace" : "not set";
    }
    oauth.fill(s, onlyClean);
  }

  function values() {
    const v = {};
    for (const f of settingFields) v[f.key] = f.type === "number" ? Number(inputs[f.key].value || 0) : inputs[f.key].value.trim();
    v.signup_enabled = inputs.signup_enabled.checked;
    for (const n of notices) v[n.key] = !n.box.input.checked;
    if (dirty.has("smtp_password")) v.smtp_password = pass.input.value;
    Object.assign(v, oauth.values());
    return v;
  }

  async function testSMTP() {
    const v = values();
    const params = { smtp_hostname: v.smtp_hostname, smtp_port: v.smtp_port, smtp_username: v.smtp_username };
    if ("smtp_password" in v) params.smtp_password = v.smtp_password;
    status.textContent = "Testing…";
    const res = await run(() => client.call("/v1/admin/settings/test-smtp", params));
    status.textContent = res ? "The SMTP server accepted the settings." : "The test failed.";
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const res = await run(() => client.call("/v1/admin/settings/update", values()));
    if (!res) return;
    dirty.clear();
    fill(res.data, false);
    say("Settings saved.");
  });

  eventHandlers.add((name, args) => {
    if (name !== "settings/update" || !args[0]) return;
    fill(args[0], true);
    status.textContent = "Updated by a change elsewhere at " + new Date().toLocaleTimeString() + ".";
  });

  const res = await run(() => client.call("/v1/admin/settings/read"));
  if (res) fill(res.data, false);
  main.append(form);
}

// oauthSettings edits oauth_providers (a row per provider; a client secret
// left empty keeps the stored one), oauth_redirect_urls (one a line) and
// oauth_link_verified_email. Only what was changed is sent.
function oauthSettings(dirty) {
  const rows = h("tbody", {});
  const urls = h("textarea", { name: "oauth_redirect_urls", rows: 3, id: "oauth-redirect-urls" });
  const link = checkbox("Link a first sign-in to the user of an email the provider verified", { name: "oauth_link_verified_email" });
  const add = h("button", { type: "button", onclick: () => { rows.append(providerRow("", {})); dirty.add("oauth_providers"); } }, "Add provider");
  const el = h("fieldset", { class: "stack oauth-settings" }, h("legend", {}, "OAuth providers"),
    h("div", { class: "scroll" }, h("table", {},
      h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Type"), h("th", { class: "wide" }, "Issuer (OpenID Connect)"), h("th", {}, "Client id"), h("th", {}, "Client secret"), h("th", {}))),
      rows)),
    add,
    h("label", { class: "stack" }, "Redirect URLs allowed, one a line (this console's is " + redirectURL() + ")", urls),
    link.el);
  el.addEventListener("input", (e) => {
    if (e.target.closest("tr")) dirty.add("oauth_providers");
  });

  function providerRow(name, p) {
    const input = (key, value, attrs = {}) => h("input", { name: key, value: value ?? "", autocomplete: "off", ...attrs });
    const type = h("select", { name: "type" }, ["oidc", "github"].map((t) => h("option", { value: t, selected: p.type === t }, t)));
    const tr = h("tr", { "data-provider": name },
      h("td", {}, input("name", name, { "aria-label": "Provider name" })),
      h("td", {}, type),
      h("td", { class: "wide" }, input("issuer", p.issuer, { type: "url", "aria-label": "Issuer" })),
      h("td", {}, input("client_id", p.client_id, { "aria-label": "Client id" })),
      h("td", {}, input("client_secret", "", { type: "password", "aria-label": "Client secret", placeholder: p.client_secret_set ? "stored; type to replace" : "not set" })),
      h("td", {}, h("button", { type: "button", class: "danger", onclick: () => { tr.remove(); dirty.add("oauth_providers"); } }, "Remove")));
    return tr;
  }

  return {
    el,
    fill(s, onlyClean) {
      if (!(onlyClean && dirty.has("oauth_providers"))) {
        rows.replaceChildren(...Object.entries(s.oauth_providers || {}).map(([n, p]) => providerRow(n, p)));
      }
      if (!(onlyClean && dirty.has("oauth_redirect_urls"))) urls.value = (s.oauth_redirect_urls || []).join("\n");
      if (!(onlyClean && dirty.has("oauth_link_verified_email"))) link.input.checked = !!s.oauth_link_verified_email;
    },
    values() {
      const v = {};
      if (dirty.has("oauth_providers")) {
        v.oauth_providers = {};
        for (const tr of rows.children) {
          const get = (k) => tr.querySelector(`[name="${k}"]`).value.trim();
          const p = { type: get("type"), client_id: get("client_id") };
          if (p.type === "oidc") p.issuer = get("issuer");
          if (get("client_secret")) p.client_secret = get("client_secret");
          v.oauth_providers[get("name")] = p;
        }
      }
      if (dirty.has("oauth_redirect_urls")) v.oauth_redirect_urls = urls.value.split("\n").map((u) => u.trim()).filter(Boolean);
      if (dirty.has("oauth_link_verified_email")) v.oauth_link_verified_email = link.input.checked;
      return v;
    },
  };
}

// --- Call log -------------------------------------------------------------------

// app is what the call log's and the audit trail's pages (calls.js,
// audit.js) use of the console.
const app = {
  client, run, say, main, pageSize, signedOut, route,
  // every calls fn every ms (pollEvery by default) until the page is left.
  every(fn, ms = pollEvery) {
    const t = setInterval(fn, ms);
    state.stop.push(() => clearInterval(t));
  },
};

// --- Profile ---------------------------------------------------------------------

async function profilePage() {
  const res = await run(() => client.call("/v1/profile/read"));
  if (!res) return;
  const p = res.data;
  const email = field("Email", { type: "email", name: "email", value: p.email ?? "", autocomplete: "email" });
  const tg = field("Telegram user name", { name: "telegram", value: p.telegram_name ?? "" });
  const form = (f, method, label) => {
    const el = h("form", { class: "inline" }, f.el, h("button", { type: "submit" }, label));
    el.addEventListener("submit", async (e) => {
      e.preventDefault();
      const v = f.input.value.trim();
      if (await run(() => (v ? client.call(method, v) : client.call(method)))) say("Saved.");
    });
    return el;
  };
  const perms = Object.entries(p.permissions || {}).filter(([, on]) => on).map(([k]) => k);
  main.append(h("section", { class: "card stack" },
    h("dl", {},
      h("dt", {}, "User name"), h("dd", { id: "profile-name" }, p.name),
      h("dt", {}, "User id"), h("dd", {}, p.id),
      h("dt", {}, "Email confirmed"), h("dd", {}, p.email_confirmed ? "yes" : "no"),
      h("dt", {}, "Permissions"), h("dd", {}, p.id === "1" ? "all (root)" : perms.join(", ") || "none"),
      h("dt", {}, "Created"), h("dd", {}, when(p.created))),
    form(email, "/v1/profile/set-email", "Save email"),
    form(tg, "/v1/profile/set-telegram-username", "Save telegram name")));
  await identitiesSection();
}

// identitiesSection lists the caller's accounts at OAuth providers, when
// the server has OAuth.
async function identitiesSection() {
  const section = h("section", { class: "card stack", id: "identities" }, h("h2", {}, "Linked accounts"));
  async function load() {
    let res;
    try {
      res = await client.call("/v1/profile/get-identities");
    } catch {
      section.remove(); // no OAuth on this server
      return;
    }
    const rows = Array.isArray(res.data) ? res.data : [];
    section.replaceChildren(h("h2", {}, "Linked accounts"), rows.length
      ? h("div", { class: "scroll" }, h("table", {},
        h("thead", {}, h("tr", {}, h("th", {}, "Provider"), h("th", { class: "wide" }, "Email"), h("th", {}, "Linked"), h("th", {}, "Actions"))),
        h("tbody", {}, rows.map((i) => h("tr", { "data-identity": i.provider },
          h("td", {}, i.provider), h("td", { class: "wide" }, (i.email || "") + (i.email && !i.email_verified ? " (unverified)" : "")), h("td", {}, when(i.created)),
          h("td", { class: "actions" }, h("button", { type: "button", class: "danger", "aria-label": `Unlink ${i.provider}`, onclick: async () => {
            if (await run(() => client.call("/v1/profile/remove-identity", i.id))) { say(`Unlinked ${i.provider}.`); load(); }
          } }, "Unlink")))))))
      : h("p", { class: "muted" }, "No linked accounts."));
  }
  main.append(section);
  await load();
}

// --- Start --------------------------------------------------------------------------

async function start() {
  const title = document.querySelector("title");
  title.dataset.base = title.textContent;
  window.addEventListener("hashchange", route);
  if (await finishOAuth()) return;
  const token = sessionStorage.getItem(tokenKey);
  if (token) {
    client.setToken(token);
    try {
      const res = await client.call("/v1/session/signin");
      state.auth = res.data?.auth ?? res.data;
    } catch {
      sessionStorage.removeItem(tokenKey);
      client.setToken("");
    }
  }
  route();
}

start();
