// Runs the seed's own JavaScript client, @softvisio/core 6.x, against a
// running example app, over HTTP and over WebSocket:
//
//     node check.js http://127.0.0.1:8080/api/ <root password> [http://127.0.0.1:8081/api/]
//
// It signs in as root, calls a method of every module, replays what the
// seed's front end reads (the session store, grids, the permissions
// dialog, the call-log charts, an upload with a parameter), receives
// settings/update, and sees "signout" when its session is ended from
// another connection. With a second URL (another instance on the same
// database) the WebSocket goes there, so the event and the signout cross
// instances. Over WebSocket it lists root's sessions and ends another one
// (profile/get-sessions, sign-out-session): that session's socket closes,
// this one stays open. With AUTHRPC_FACTOR_USER="name:password" (a user
// with a second factor, SPEC §10), signing in as that user is a plain
// refusal to this client: 401, no token, still a guest. It prints each
// step and exits non-zero at the first that fails.

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

// raw POSTs a call over HTTP as the seed's 4.x front end did, and answers
// the whole result object: that client copied every field of it, and its
// grids read total and summary there.
async function raw(method, token, ...params) {
    const res = await fetch(new URL(method.substring(1), base), {
        "method": "POST",
        "headers": { "Content-Type": "application/json", "Authorization": "Bearer " + token },
        "body": JSON.stringify(params),
    });
    return (await res.json()).result;
}

// frontEnd replays what the seed's front end reads (SPEC §7a) through api.
async function frontEnd(api, tag) {
    const step = name => `${tag} front end: ${name}`;

    // The session store after a reload: signin without credentials.
    const reload = Api.new(base, { "token": api.token });
    ok(step("session store after a reload"), await reload.call("/v1/session/signin"), res => res.data.auth.is_authenticated === true && res.data.auth.username === "root" && !res.data.token && typeof res.data.auth.avatar === "string" && typeof res.data.settings === "object");
    refused(step("a guest's signin without credentials"), await Api.new(base).call("/v1/session/signin"), 401);
    refused(step("a guest's signout"), await Api.new(base).call("/v1/session/signout"), 404);

    // The users grid: total, summary and avatars.
    const name = `grid-${tag}`;
    const created = ok(step("admin/users/create"), await api.call("/v1/admin/users/create", { "username": name, "password": "password-" + tag, "email": `${name}@Example.com` }));
    const grid = ok(step("users grid"), await api.call("/v1/admin/users/read", { "where": { "search": ["like", name] } }), res => res.meta.total === 1 && res.data[0].avatar?.startsWith("https://s.gravatar.com/avatar/") && res.data[0].gravatar?.length === 32);
    const top = await raw("/v1/admin/users/read", api.token, { "where": { "search": ["like", name] } });
    if (top.total !== 1 || top.summary?.total !== 1) fail(`${step("users grid total")}: ${JSON.stringify(top)}`);
    console.log(`ok   ${step("users grid total and summary at the top of result")}`);
    ok(step("a user by options.id"), await api.call("/v1/admin/users/read", { "id": created.data.id }), res => !Array.isArray(res.data) && res.data.name === name && res.data.avatar === grid.data[0].avatar);

    // The permissions dialog: rows {id, name, description, enabled}, sent back as {id: enabled}.
    const rows = ok(step("permissions dialog"), await api.call("/v1/admin/users/get-permissions", name), res => res.data.length > 0 && res.data.every(p => typeof p.id === "string" && typeof p.name === "string" && "description" in p && typeof p.enabled === "boolean"));
    const submit = Object.fromEntries(rows.data.map(p => [p.id, true]));
    ok(step("permissions dialog submits"), await api.call("/v1/admin/users/set-permissions", name, submit));
    ok(step("permissions dialog reopened"), await api.call("/v1/admin/users/get-permissions", name), res => res.data.every(p => p.enabled));
    ok(step("api-tokens/create owner"), await api.call("/v1/api-tokens/create", "front " + tag), res => res.data.username === "root" && res.data.userId === "1");
    ok(step("admin/users/delete"), await api.call("/v1/admin/users/delete", name));

    // The call-log charts: arrays with the calls just made, within the 10 s lag.
    const said = `chart ${tag}`;
    for (let i = 0; i < 3; i++) ok(step("test/test for the chart"), await api.call("/v1/test/test", said));
    const deadline = Date.now() + 15000;
    let chart;
    for (;;) {
        const res = await api.call("/v1/admin/api-call-log/read-latest-stat");
        if (!res.ok) fail(`${step("read-latest-stat")}: ${res.status} ${res.statusText}`);
        chart = res.data.find(m => m.id === "/v1/test/test");
        if (chart && chart.load.reduce((n, b) => n + b.total_accepted, 0) >= 3) break;
        if (Date.now() > deadline) fail(`${step("call-log chart")}: no load for the calls: ${JSON.stringify(chart)}`);
        await new Promise(resolve => setTimeout(resolve, 250));
    }
    if (chart.load.length !== 60 || chart.requests.length !== 60 || !chart.last_updated || !("avg_runtime" in chart.requests[0]) || typeof chart.active_requests_limit !== "number" || typeof chart.active_requests_user_limit !== "number" || typeof chart.total_active_requests !== "number") {
        fail(`${step("call-log chart")}: unexpected row ${JSON.stringify(chart).slice(0, 400)}`);
    }
    console.log(`ok   ${step("call-log charts: load and requests")}`);
    ok(step("read-history-stat"), await api.call("/v1/admin/api-call-log/read-history-stat", "/v1/test/test"), res => res.data.id === "/v1/test/test" && res.data.load.length === res.data.requests.length);
    ok(step("read-log rows"), await api.call("/v1/admin/api-call-log/read-log", { "where": { "method_id": "/v1/test/test" } }), res => res.meta.total > 0 && ["started", "finished", "runtime", "status", "status_text", "is_error", "is_exception", "user_id"].every(k => k in res.data[0]));
}

// HTTP: one request per call.
const http = Api.new(base);
const signin = ok("http session/signin", await http.call("/v1/session/signin", { "username": "root", "password": rootPassword }), res => res.data.token);
refused("http session/signin with a wrong password", await http.call("/v1/session/signin", { "username": "root", "password": "wrong-password" }), 401);
if (process.env.AUTHRPC_FACTOR_USER) {
    const [name, password] = process.env.AUTHRPC_FACTOR_USER.split(":");
    const guest = Api.new(base);
    const res = await guest.call("/v1/session/signin", { "username": name, "password": password });
    refused("http session/signin of a user with a second factor", res, 401);
    if (res.data?.token) fail("a user with a second factor got a token for the password alone");
    refused("the same client after it: still a guest", await guest.call("/v1/session/signin"), 401);
}
http.token = signin.data.token;
ok("http session store after sign-in", signin, res => res.data.auth.is_authenticated === true && typeof res.data.auth.avatar === "string" && typeof res.data.settings === "object");
await modules(http, "http");
await frontEnd(http, "http");

// An upload as the front end sends it: the file first, then a parameter.
const upload = http.upload("/v1/test/upload", { "name": "note.txt", "type": "text/plain", "content": "uploaded by node" }, { "note": "with a parameter" });
ok("http test/upload with a file and a parameter", await upload.start(), res => res.data.filename === "note.txt" && res.data.size === 16 && res.data.data?.note === "with a parameter");

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
await frontEnd(ws, "ws");

// settings/update reaches the socket, which root's admin permission joins.
ok("http admin/settings/update", await http.call("/v1/admin/settings/update", { "app_url": "https://example.com/node" }));
await within("ws settings/update event", resolve => {
    const poll = () => (updates.length ? resolve() : setTimeout(poll, 10));
    poll();
});
if (updates[0][0]?.app_url !== "https://example.com/node") fail(`ws settings/update event: unexpected arguments ${JSON.stringify(updates[0])}`);
console.log("ok   ws settings/update event");

// The session list over WebSocket: a second session of root's with a socket
// of its own, ended from the first socket with sign-out-session. Its socket
// closes ("signout"); the first socket stays open.
const second = ok("http session/signin (a second session)", await Api.new(base).call("/v1/session/signin", { "username": "root", "password": rootPassword }), res => res.data.token);
const ws2 = Api.new(url.href, { "token": second.data.token });
const secondOut = new Promise(resolve => ws2.once("signout", resolve));
let firstOut = false;
ws.once("signout", () => { firstOut = true; });
await within("ws2 connect", resolve => ws2.waitConnect().then(resolve));
const mine = ok("ws2 profile/get-sessions", await ws2.call("/v1/profile/get-sessions"), res => res.data.length >= 2 && res.data.filter(s => s.current).length === 1 && res.data.every(s => typeof s.id === "string" && !s.id.startsWith("ses_") && "last_activity" in s && "device" in s));
const secondID = mine.data.find(s => s.current).id;
ok("ws profile/get-sessions", await ws.call("/v1/profile/get-sessions"), res => res.data.some(s => s.id === secondID && !s.current));
refused("ws profile/sign-out-session of no session", await ws.call("/v1/profile/sign-out-session", "999999999"), 404);
ok("ws profile/sign-out-session", await ws.call("/v1/profile/sign-out-session", secondID));
await within("ws2 signout", resolve => secondOut.then(resolve));
console.log("ok   ws2 signout: the ended session's socket closed");
ok("ws profile/read after ending another session", await ws.call("/v1/profile/read"), res => res.data.name === "root");
if (firstOut) fail("ws signout: the first socket closed with the other session");
console.log("ok   ws stays open");
ws2.disconnect?.();

// The session ended over HTTP closes the socket with 4000: "signout".
ok("http session/signout", await http.call("/v1/session/signout"));
await within("ws signout", resolve => signedOut.then(resolve));
console.log("ok   ws signout");

// The client reconnects with the token that no longer counts: a guest.
await within("ws reconnect", resolve => ws.waitConnect().then(resolve));
refused("ws profile/read after signout", await ws.call("/v1/profile/read"), -32801);

console.log("PASS");
process.exit(0);
