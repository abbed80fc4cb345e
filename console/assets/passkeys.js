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
