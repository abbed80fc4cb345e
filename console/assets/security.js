// The Security page: the caller's sessions (this device marked), signing
// out one, and signing out all the others after re-entering the password
// (a step-up: /v1/session/authorize, then the call that requires it). And
// the administrators' view of one user's sessions, from the users page.
import { h, field, when, dialog } from "./dom.js";
import { factorsSection } from "./factors.js";
import { passkeysSection } from "./passkeys.js";

// sessionTable renders get-sessions rows with a sign-out button each.
function sessionTable(rows, signOut, owner) {
  return h("div", { class: "scroll" }, h("table", { class: "sessions" },
    h("thead", {}, h("tr", {},
      h("th", {}, "Device"), h("th", {}, "Browser"), h("th", {}, "System"), h("th", {}, "Address"),
      h("th", {}, "Last activity"), h("th", {}, "Signed in"), h("th", {}, "Actions"))),
    h("tbody", {}, rows.map((s) => h("tr", { "data-session": s.id, "data-current": s.current ? "true" : false },
      h("td", {}, s.device || "unknown", s.current ? h("strong", { class: "this-device" }, " (this device)") : ""),
      h("td", {}, s.browser || ""), h("td", {}, s.os || ""), h("td", {}, s.remote_address || ""),
      h("td", {}, when(s.last_activity)), h("td", {}, when(s.created)),
      h("td", { class: "actions" }, h("button", {
        type: "button", class: "danger", onclick: () => signOut(s),
        "aria-label": `Sign out ${owner}session ${s.id}${s.current ? " (this device)" : ""}`,
      }, "Sign out")))))));
}

// securityPage is the caller's own sessions.
export async function securityPage(app) {
  const { client, run, say, main } = app;
  const list = h("div", { class: "list" });
  const others = h("button", { type: "button", class: "danger", onclick: signOutOthers }, "Sign out all other sessions");

  async function load() {
    const res = await run(() => client.call("/v1/profile/get-sessions"));
    if (!res) return;
    const rows = Array.isArray(res.data) ? res.data : [];
    others.disabled = !rows.some((s) => !s.current);
    list.replaceChildren(sessionTable(rows, signOut, ""));
  }

  async function signOut(s) {
    if (!(await run(() => client.call("/v1/profile/sign-out-session", s.id)))) return;
    if (s.current) {
      app.signedOut("You signed out this device.");
      return;
    }
    say("Signed out the session.");
    load();
  }

  // Signing out every other session takes the password again: a session
  // left open somewhere must not shut its owner out.
  function signOutOthers() {
    const pass = field("Password", { type: "password", name: "password", autocomplete: "current-password", required: true });
    dialog("Sign out all other sessions", h("div", { class: "stack" },
      h("p", {}, "Every other device signed in as you is signed out. Enter your password to confirm."), pass.el),
    "Sign out others", async () => {
      await client.call("/v1/session/authorize", { password: pass.input.value });
      await client.call("/v1/profile/sign-out-all-sessions");
      say("Signed out all other sessions.");
      load();
    });
    pass.input.focus();
  }

  const factors = h("div");
  main.append(factors, h("section", { class: "card stack" },
    h("h2", {}, "Sessions"),
    h("p", { class: "muted" }, "The devices signed in as you. Sign out the ones you do not know, and change your password."),
    list, h("div", { class: "actions" }, others)));
  // The passkeys card goes beside the second factor's (passkeys.js).
  factors.replaceWith(await factorsSection(app), passkeysSection(app));
  await load();
}

// userSessions opens a dialog with a user's sessions, for administrators.
export async function userSessions(app, u) {
  const { client, run, say } = app;
  const body = h("div", { class: "stack" });
  async function load() {
    const res = await run(() => client.call("/v1/admin/users/get-sessions", u.id));
    if (!res) return;
    const rows = Array.isArray(res.data) ? res.data : [];
    body.replaceChildren(rows.length ? sessionTable(rows, signOut, `${u.name}'s `) : h("p", {}, "No open sessions."));
  }
  async function signOut(s) {
    if (await run(() => client.call("/v1/admin/users/sign-out-session", u.id, s.id))) {
      say(`Signed out a session of ${u.name}.`);
      load();
    }
  }
  await load();
  dialog(`Sessions of ${u.name}`, body, "Sign out all", async () => {
    await client.call("/v1/admin/users/sign-out-all-sessions", u.id);
    say(`Signed out every session of ${u.name}.`);
  });
}
