// Passkeys: the Security page's list (add, rename, remove) and the sign-in
// page's "Sign in with a passkey". The server keeps each ceremony's state;
// the browser only carries the options to navigator.credentials and the
// credential back, binary values in base64url both ways.
import { h, field, when, dialog } from "./dom.js";
import { secondStepExtras } from "./factors.js";

function fromB64(s) {
  const b = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(b, (c) => c.charCodeAt(0)).buffer;
}

function toB64(buf) {
  let s = "";
  for (const c of new Uint8Array(buf)) s += String.fromCharCode(c);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// creationOptions and requestOptions turn the server's JSON options into
// what navigator.credentials takes.
function creationOptions(o) {
  return {
    ...o,
    challenge: fromB64(o.challenge),
    user: { ...o.user, id: fromB64(o.user.id) },
    excludeCredentials: (o.excludeCredentials || []).map((c) => ({ ...c, id: fromB64(c.id) })),
  };
}

function requestOptions(o) {
  const { challenge_token: _, ...rest } = o;
  return {
    ...rest,
    challenge: fromB64(o.challenge),
    allowCredentials: (o.allowCredentials || []).map((c) => ({ ...c, id: fromB64(c.id) })),
  };
}

// credentialJSON is a PublicKeyCredential as the server reads it (its
// toJSON(), written out for browsers without one).
function credentialJSON(cred) {
  const r = cred.response;
  const response = { clientDataJSON: toB64(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = toB64(r.attestationObject);
    response.transports = r.getTransports ? r.getTransports() : [];
  } else {
    response.authenticatorData = toB64(r.authenticatorData);
    response.signature = toB64(r.signature);
    if (r.userHandle) response.userHandle = toB64(r.userHandle);
  }
  return {
    id: cred.id, rawId: toB64(cred.rawId), type: cred.type, response,
    clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
    authenticatorAttachment: cred.authenticatorAttachment || undefined,
  };
}

export function passkeysSupported() {
  return typeof window.PublicKeyCredential === "function" && !!navigator.credentials;
}

// assertion begins a passkey assertion and asks the browser for it: the
// credentials signin and authorize take, {passkey, challenge_token}.
export async function passkeyAssertion(client) {
  const res = await client.call("/v1/session/begin-passkey-signin");
  const cred = await navigator.credentials.get({ publicKey: requestOptions(res.data) });
  if (!cred) throw new Error("No passkey was chosen.");
  return { passkey: credentialJSON(cred), challenge_token: res.data.challenge_token };
}

// signin is the client and run of the sign-in page last shown, for the
// second step's button.
let signin = null;

// passkeySignin adds "Sign in with a passkey" to the sign-in form;
// signedIn(res) takes the signin answer.
export function passkeySignin(form, { client, run, signedIn }) {
  signin = { client, run };
  if (!passkeysSupported()) return;
  const btn = h("button", { type: "button", class: "passkey-signin", onclick: async () => {
    const res = await run(async () => client.call("/v1/session/signin", await passkeyAssertion(client)));
    if (res) signedIn(res);
  } }, "Sign in with a passkey");
  form.append(h("div", { class: "stack passkeys" }, h("p", { class: "muted" }, "or"), btn));
}

// The second step of a sign-in after the password: "Use a passkey" for a
// user who has one.
secondStepExtras.push(({ methods, container, complete }) => {
  if (!methods.includes("passkey") || !passkeysSupported() || !signin) return;
  const { client, run } = signin;
  container.append(h("button", { type: "button", class: "primary passkey-second-step", onclick: async () => {
    const creds = await run(() => passkeyAssertion(client));
    if (creds) await complete(creds);
  } }, "Use a passkey"));
});

// confirmField asks for the password: adding and removing a passkey
// require a recent authorization.
function confirmField() {
  return field("Password", { type: "password", name: "password", autocomplete: "current-password", required: true });
}

// confirmation is the password field of a dialog that authorizes first,
// with "Use a passkey instead" for a user who has one (no password to
// type, or none at all); authorize() authorizes the session either way.
function confirmation(client, offerPasskey) {
  const pass = confirmField();
  let withPasskey = false;
  const swap = h("button", { type: "button", class: "link", hidden: !offerPasskey || !passkeysSupported(), onclick: () => {
    withPasskey = !withPasskey;
    pass.el.hidden = withPasskey;
    pass.input.required = !withPasskey;
    swap.textContent = withPasskey ? "Use the password instead" : "Use a passkey instead";
  } }, "Use a passkey instead");
  return {
    el: h("div", { class: "stack" }, pass.el, swap),
    focus: () => pass.input.focus(),
    authorize: async () => client.call("/v1/session/authorize",
      withPasskey ? await passkeyAssertion(client) : { password: pass.input.value }),
  };
}

// passkeysSection is the Security page's card of the caller's passkeys.
export function passkeysSection(app) {
  const { client, run, say } = app;
  const list = h("div", { class: "list" });
  const add = h("button", { type: "button", class: "primary", onclick: addPasskey }, "Add a passkey");
  let count = 0; // the caller's passkeys, as last listed

  async function load() {
    const res = await run(() => client.call("/v1/profile/get-passkeys"));
    if (!res) return;
    const rows = Array.isArray(res.data) ? res.data : [];
    count = rows.length;
    if (!rows.length) {
      list.replaceChildren(h("p", { class: "muted", id: "no-passkeys" }, "No passkeys yet."));
      return;
    }
    list.replaceChildren(h("div", { class: "scroll" }, h("table", { class: "passkeys" },
      h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Added"), h("th", {}, "Last used"), h("th", {}, "Actions"))),
      h("tbody", {}, rows.map((p) => h("tr", { "data-passkey": p.id },
        h("td", { class: "name" }, p.name), h("td", {}, when(p.created)), h("td", {}, p.last_used ? when(p.last_used) : "never"),
        h("td", { class: "actions" },
          h("button", { type: "button", onclick: () => rename(p), "aria-label": `Rename passkey ${p.name}` }, "Rename"),
          h("button", { type: "button", class: "danger", onclick: () => remove(p), "aria-label": `Remove passkey ${p.name}` }, "Remove"))))))));
  }

  function addPasskey() {
    const name = field("Name", { name: "passkey-name", placeholder: "Passkey" });
    const confirm = confirmation(client, count > 0);
    dialog("Add a passkey", h("div", { class: "stack" },
      h("p", {}, "Your browser or device creates a passkey for this site. Enter your password to confirm."), name.el, confirm.el),
    "Add passkey", async () => {
      await confirm.authorize();
      const res = await client.call("/v1/profile/begin-passkey");
      const cred = await navigator.credentials.create({ publicKey: creationOptions(res.data) });
      if (!cred) throw new Error("No passkey was created.");
      await client.call("/v1/profile/finish-passkey", credentialJSON(cred), name.input.value);
      say("Added the passkey.");
      load();
    });
    name.input.focus();
  }

  function rename(p) {
    const name = field("Name", { name: "passkey-name", value: p.name, required: true });
    dialog("Rename passkey", name.el, "Rename", async () => {
      await client.call("/v1/profile/rename-passkey", p.id, name.input.value);
      say("Renamed the passkey.");
      load();
    });
    name.input.focus();
  }

  function remove(p) {
    const confirm = confirmation(client, true);
    dialog(`Remove passkey ${p.name}`, h("div", { class: "stack" },
      h("p", {}, "The passkey will no longer sign you in. Enter your password to confirm."), confirm.el),
    "Remove", async () => {
      await confirm.authorize();
      await client.call("/v1/profile/remove-passkey", p.id);
      say("Removed the passkey.");
      load();
    });
    confirm.focus();
  }

  if (!passkeysSupported()) add.disabled = true;
  load();
  return h("section", { class: "card stack", id: "passkeys" },
    h("h2", {}, "Passkeys"),
    h("p", { class: "muted" }, "Passkeys sign you in without a password, with your device's screen lock or a security key."),
    list, h("div", { class: "actions" }, add));
}
