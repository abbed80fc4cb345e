// Runs the seed's own JavaScript client, @softvisio/core 6.x, against a
// running example app, over HTTP and over WebSocket:
//
//     node check.js http://127.0.0.1:8080/api/ <root password> [http://127.0.0.1:8081/api/]
//
// It signs in as root, calls a method of every module, receives
// settings/update, and sees "signout" when its session is ended from
// another connection. With a second URL (another instance on the same
// database) the WebSocket goes there, so the event and the signout cross
// instances. It prints each step and exits non-zero at the first that fails.

import Api from "@softvisio/core/api";

const [base, rootPassword, wsBase = base] = process.argv.slice(2);
if (!base || !rootPassword) {
    console.error("usage: node check.js <API base URL> <root password>");
    process.exit(2);
}

const STEP_TIMEOUT = 5000;

function fail(message) {
    console.error("FAIL " + message);
    process.exit(1);
}

function ok(step, res, check) {
    if (!res.ok) fail(`${step}: ${res.status} ${res.statusText}`);
    if (check && !check(res)) fail(`${step}: unexpected answer ${JSON.stringify(res)}`);
    console.log(`ok   ${step}`);
    return res;
}

function refused(step, res, status) {
    if (res.status !== status) fail(`${step}: ${res.status} ${res.statusText}, want ${status}`);
    console.log(`ok   ${step} (${res.status})`);
}

// within resolves with what fn resolves, or fails the check after the timeout.
function within(step, fn) {
    return new Promise(resolve => {
        const timer = setTimeout(() => fail(`${step}: nothing within ${STEP_TIMEOUT} ms`), STEP_TIMEOUT);
        fn(value => {
            clearTimeout(timer);
            resolve(value);
        });
    });
}

// modules calls a method of every module as root through api.
async function modules(api, tag) {
    const step = name => `${tag} ${name}`;

    ok(step("session/signin (who am I)"), await api.call("/v1/session/signin"), res => res.data.auth.username === "root");
    ok(step("profile/read"), await api.call("/v1/profile/read"), res => res.data.name === "root");

    const name = `user-${tag}`;
    ok(step("admin/users/create"), await api.call("/v1/admin/users/create", { "username": name, "password": "password-" + tag }));
    ok(step("admin/users/read"), await api.call("/v1/admin/users/read", { "where": { "search": ["like", name] } }), res => res.data.length === 1 && res.data[0].name === name && res.meta.total === 1);
    refused(step("admin/users/create again"), await api.call("/v1/admin/users/create", { "username": name }), 409);
    refused(step("admin/users/read with a bad option"), await api.call("/v1/admin/users/read", { "where": { "nope": 1 } }), -32808);

    const token = ok(step("api-tokens/create"), await api.call("/v1/api-tokens/create", "bot " + tag), res => res.data.token.startsWith("tok_"));
    ok(step("api-tokens/read"), await api.call("/v1/api-tokens/read"), res => res.data.some(t => t.id === token.data.id));
    ok(step("api-tokens/delete"), await api.call("/v1/api-tokens/delete", token.data.id));

    ok(step("admin/settings/read"), await api.call("/v1/admin/settings/read"), res => "app_url" in res.data);
    ok(step("admin/api-call-log/read-latest-stat"), await api.call("/v1/admin/api-call-log/read-latest-stat", "/v1/profile/read"));
    ok(step("test/test"), await api.call("/v1/test/test", "hello " + tag), res => res.data === "hello " + tag);
    refused(step("no such method"), await api.call("/v1/no/such/method"), -32809);

    // A void call is not answered; the call after it still is.
    api.voidCall("/v1/test/test", "void " + tag);
    ok(step("test/test after a void call"), await api.call("/v1/test/test", "after"), res => res.data === "after");
}

// HTTP: one request per call.
const http = Api.new(base);
const signin = ok("http session/signin", await http.call("/v1/session/signin", { "username": "root", "password": rootPassword }), res => res.data.token);
refused("http session/signin with a wrong password", await http.call("/v1/session/signin", { "username": "root", "password": "wrong-password" }), 401);
http.token = signin.data.token;
await modules(http, "http");

// WebSocket: the front end's way, ?persistent=true on the URL.
const url = new URL(wsBase);
url.searchParams.set("persistent", "true");
const ws = Api.new(url.href, { "token": signin.data.token });
const updates = [];
ws.on("settings/update", (...args) => updates.push(args));
const signedOut = new Promise(resolve => ws.once("signout", resolve));
await within("ws connect", resolve => ws.waitConnect().then(resolve));
console.log("ok   ws connect");
ok("ws ping", await ws.ping());
ok("ws healthcheck", await ws.healthcheck());
await modules(ws, "ws");

// settings/update reaches the socket, which root's admin permission joins.
ok("http admin/settings/update", await http.call("/v1/admin/settings/update", { "app_url": "https://example.com/node" }));
await within("ws settings/update event", resolve => {
    const poll = () => (updates.length ? resolve() : setTimeout(poll, 10));
    poll();
});
if (updates[0][0]?.app_url !== "https://example.com/node") fail(`ws settings/update event: unexpected arguments ${JSON.stringify(updates[0])}`);
console.log("ok   ws settings/update event");

// The session ended over HTTP closes the socket with 4000: "signout".
ok("http session/signout", await http.call("/v1/session/signout"));
await within("ws signout", resolve => signedOut.then(resolve));
console.log("ok   ws signout");

// The client reconnects with the token that no longer counts: a guest.
await within("ws reconnect", resolve => ws.waitConnect().then(resolve));
refused("ws profile/read after signout", await ws.call("/v1/profile/read"), -32801);

console.log("PASS");
process.exit(0);
