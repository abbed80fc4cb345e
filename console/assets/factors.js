// Second factors: the second step of a sign-in (a code from the
// authenticator app, or a recovery code), and the Security page's
// authenticator app and recovery codes. Enrolling, new codes and removal
// take the password again first (/v1/session/authorize).
import { h, field, dialog } from "./dom.js";

// secondStepExtras are more ways to complete the second step, added by
// other files: passkeys.js adds "Use a passkey". Each is called as
// fn({ methods, token, container, complete }) when methods holds its own;
// it appends its controls to container and calls complete(credentials)
// with the factor's fields ({ passkey, challenge_token }), which resolves
// to the sign-in's result or rejects with the refusal.
export const secondStepExtras = [];

// secondStep replaces the sign-in form with the second step for sf
// ({ token, methods }) and calls done(result) with the sign-in's result.
export function secondStep(app, form, sf, done) {
  const { client, run, say } = app;
  const methods = sf.methods || [];
  async function complete(creds) {
    const res = await client.call("/v1/session/signin", { second_factor_token: sf.token, ...creds });
    done(res);
    return res;
  }
  const step = h("form", { class: "card stack signin second-step", "data-methods": methods.join(" ") },
    h("h1", {}, "Second step"));
  const code = field("Code from your authenticator app", {
    name: "totp_code", inputmode: "numeric", autocomplete: "one-time-code", pattern: "[0-9]{6}", maxlength: "6",
  });
  const recovery = field("Recovery code", { name: "recovery_code", autocomplete: "off", spellcheck: "false" });
  let useRecovery = !methods.includes("totp");
  const toggle = h("button", { type: "button", class: "link", onclick: () => { useRecovery = !useRecovery; show(); } });
  function show() {
    code.el.hidden = useRecovery;
    recovery.el.hidden = !useRecovery;
    code.input.required = !useRecovery;
    recovery.input.required = useRecovery;
    toggle.textContent = useRecovery ? "Use a code from the app" : "Use a recovery code";
    toggle.hidden = !(methods.includes("totp") && methods.includes("recovery_code"));
    (useRecovery ? recovery.input : code.input).focus();
  }
  const typed = methods.includes("totp") || methods.includes("recovery_code");
  if (typed) {
    step.append(h("p", { class: "muted" }, "Your account has a second factor. Enter a code to finish signing in."),
      code.el, recovery.el, h("button", { type: "submit", class: "primary" }, "Verify"), toggle);
  }
  const extras = h("div", { class: "stack extras" });
  step.append(extras);
  // The passkey button goes here (passkeys.js, through secondStepExtras).
  for (const fn of secondStepExtras) {
    fn({ methods, token: sf.token, container: extras, complete: (creds) => run(() => complete(creds)) });
  }
  step.append(h("button", { type: "button", class: "link", onclick: () => app.route() }, "Start over"));
  step.addEventListener("submit", async (e) => {
    e.preventDefault();
    const creds = useRecovery ? { recovery_code: recovery.input.value.trim() } : { totp_code: code.input.value.trim() };
    const res = await run(() => complete(creds));
    if (!res) {
      code.input.value = "";
      (useRecovery ? recovery.input : code.input).focus();
    }
  });
  form.replaceWith(step);
  say("");
  if (typed) show();
}

// withPassword asks for the password in a dialog, authorizes the session
// with it, then runs then(); the dialog stays open on a refusal.
function withPassword(app, title, text, label, then) {
  const pass = field("Password", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const dlg = dialog(title, h("div", { class: "stack" }, h("p", {}, text), pass.el), label, async () => {
    await app.client.call("/v1/session/authorize", { password: pass.input.value });
    await then();
  });
  pass.input.focus();
  return dlg;
}

// showCodes shows recovery codes once, with copy and download.
export function showCodes(codes) {
  const text = codes.join("\n") + "\n";
  const copied = h("span", { class: "muted", role: "status" });
  const body = h("div", { class: "stack" },
    h("p", {}, "Keep these recovery codes somewhere safe. Each signs you in once if you lose your authenticator. They are shown only now."),
    h("ol", { class: "recovery-codes" }, codes.map((c) => h("li", {}, h("code", {}, c)))),
    h("div", { class: "actions" },
      h("button", {
        type: "button", onclick: async () => {
          try {
            await navigator.clipboard.writeText(text);
            copied.textContent = "Copied.";
          } catch {
            copied.textContent = "Copy did not work here: select the codes instead.";
          }
        },
      }, "Copy"),
      h("a", {
        class: "button", download: "recovery-codes.txt",
        href: URL.createObjectURL(new Blob([text], { type: "text/plain" })),
      }, "Download"),
      copied));
  return dialog("Recovery codes", body, "Done", async () => {});
}

// factorsSection is the Security page's card of the authenticator app and
// recovery codes.
export async function factorsSection(app) {
  const { client, run, say } = app;
  const card = h("section", { class: "card stack factors", id: "factors" });

  async function load() {
    const res = await run(() => client.call("/v1/profile/get-second-factors"));
    if (!res) return;
    const f = res.data;
    const totp = f.methods.includes("totp");
    const rows = [
      h("h2", {}, "Second factor"),
      f.required ? h("p", { class: "warning", id: "factor-required" }, "Your account must have a second factor: set one up to use the console.") : null,
      h("p", { id: "totp-status" }, totp ? "Authenticator app: on." : "Authenticator app: off."),
      totp ? h("p", { id: "recovery-left" }, `${f.recovery_codes} unused recovery codes.`) : null,
    ];
    const actions = h("div", { class: "actions" });
    if (!totp && f.totp_available) actions.append(h("button", { type: "button", class: "primary", onclick: enrol }, "Set up authenticator app"));
    if (!f.totp_available && !totp) rows.push(h("p", { class: "muted" }, "The server cannot keep authenticator secrets (no settings key)."));
    if (totp) {
      actions.append(
        h("button", { type: "button", onclick: newCodes }, "New recovery codes"),
        h("button", { type: "button", class: "danger", onclick: remove }, "Remove authenticator app"));
    }
    card.replaceChildren(...rows.filter(Boolean), actions);
  }

  function enrol() {
    withPassword(app, "Set up authenticator app", "Enter your password to set up an authenticator app.", "Continue", async () => {
      const res = await client.call("/v1/profile/begin-totp");
      confirm(res.data);
    });
  }

  function confirm(en) {
    const code = field("Code from the app", { name: "code", inputmode: "numeric", autocomplete: "one-time-code", required: true, maxlength: "6" });
    dialog("Scan with your authenticator app", h("div", { class: "stack" },
      h("img", { src: en.qr, alt: "QR code of the authenticator secret", class: "qr", width: "200", height: "200" }),
      h("p", {}, "Or enter this key by hand: ", h("code", { id: "totp-secret" }, en.secret)),
      code.el), "Turn on", async () => {
      const res = await client.call("/v1/profile/confirm-totp", code.input.value.trim());
      say("Authenticator app on.");
      await load();
      if (res.data.recovery_codes.length) showCodes(res.data.recovery_codes);
    });
    code.input.focus();
  }

  function newCodes() {
    withPassword(app, "New recovery codes", "Your old recovery codes stop working. Enter your password to make new ones.", "Make new codes", async () => {
      const res = await client.call("/v1/profile/new-recovery-codes");
      await load();
      showCodes(res.data.recovery_codes);
    });
  }

  function remove() {
    withPassword(app, "Remove authenticator app", "Signing in then takes your password alone. Enter your password to remove the app.", "Remove", async () => {
      await client.call("/v1/profile/remove-totp");
      say("Authenticator app removed.");
      await load();
    });
  }

  await load();
  return card;
}

// removeFactors is the administrators' "Remove second factors" of a user:
// the administrator's password first, then the call.
export function removeFactors(app, u) {
  withPassword(app, `Remove second factors of ${u.name}`,
    `${u.name}'s authenticator app, recovery codes and passkeys are removed, ${u.name}'s sessions end, and ${u.name} is mailed. Enter your password to confirm.`,
    "Remove factors", async () => {
      await app.client.call("/v1/admin/users/remove-factors", u.id);
      app.say(`Removed the second factors of ${u.name}.`);
    });
}
