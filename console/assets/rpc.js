// A client of the registry: JSON-RPC over one WebSocket (JSON text frames),
// and HTTP POST while the socket cannot open.

export class RPCError extends Error {
  // meta is the refusal's error.data.meta: second_factor, authorization_required, …
  constructor(code, message, meta = {}) {
    super(message);
    this.code = code;
    this.meta = meta;
  }
}

const callTimeout = 30000;
const socketRetry = 15000; // how long HTTP is used after the socket failed to open

export class Client {
  // api is the registry's mount path; onEvent(name, args) gets pushed events;
  // onSignout() runs when the server closes the socket for a revoked auth.
  constructor(api, { onEvent, onSignout }) {
    this.api = api.endsWith("/") ? api.slice(0, -1) : api;
    this.onEvent = onEvent;
    this.onSignout = onSignout;
    this.token = "";
    this.ws = null;
    this.opening = null;
    this.failedAt = 0;
    this.nextID = 1;
    this.pending = new Map();
    this.transport = "none";
  }

  // setToken changes the caller; the socket reopens as that caller.
  setToken(token) {
    this.token = token || "";
    this.close();
    if (this.token) this.connect();
  }

  close() {
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.onclose = null;
      ws.close(1000);
    }
    this.opening = null;
    this.rejectAll(new RPCError(0, "The connection closed."));
  }

  rejectAll(err) {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }

  socketURL() {
    const u = new URL(this.api + "/", location.href);
    u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    return u.href;
  }

  // connect opens the socket and resolves to it, or to null when it cannot open.
  connect() {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) return Promise.resolve(this.ws);
    if (this.opening) return this.opening;
    if (Date.now() - this.failedAt < socketRetry) return Promise.resolve(null);
    const protocols = this.token ? ["jsonrpc_2.0", this.token] : ["jsonrpc_2.0"];
    this.opening = new Promise((resolve) => {
      let ws;
      try {
        ws = new WebSocket(this.socketURL(), protocols);
      } catch {
        this.failedAt = Date.now();
        this.opening = null;
        resolve(null);
        return;
      }
      let opened = false;
      ws.onopen = () => {
        opened = true;
        this.ws = ws;
        this.opening = null;
        this.transport = "websocket";
        resolve(ws);
      };
      ws.onmessage = (e) => this.receive(ws, e.data);
      ws.onclose = (e) => {
        if (this.ws === ws) this.ws = null;
        if (!opened) {
          this.failedAt = Date.now();
          this.opening = null;
          this.transport = "http";
          resolve(null);
          // Try the socket again later, so that events resume.
          if (this.token) setTimeout(() => { if (!this.ws && this.token) this.connect(); }, socketRetry);
          return;
        }
        this.rejectAll(new RPCError(0, "The connection closed."));
        if (e.code === 4000) {
          this.token = "";
          this.onSignout();
          return;
        }
        // Reconnect so that events keep arriving.
        if (this.token) setTimeout(() => { if (!this.ws && this.token) this.connect(); }, 1000);
      };
    });
    return this.opening;
  }

  receive(ws, data) {
    if (typeof data !== "string") return; // this client sends text only
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (msg.method === "/ping") {
      if (msg.id !== undefined) ws.send(JSON.stringify({ jsonrpc: "2.0", id: msg.id, method: "/pong" }));
      return;
    }
    if (msg.method === "/event" || msg.method === "/publish") {
      const params = Array.isArray(msg.params) ? msg.params : [];
      if (params.length) this.onEvent(params[0], params.slice(1));
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    settle(msg, p.resolve, p.reject);
  }

  // call runs method with params and resolves to the result object
  // ({status, data, meta, ...}); a refusal rejects with an RPCError carrying
  // the server's message.
  async call(method, ...params) {
    const ws = await this.connect();
    if (ws && ws.readyState === WebSocket.OPEN) {
      return new Promise((resolve, reject) => {
        const id = this.nextID++;
        const timer = setTimeout(() => {
          this.pending.delete(id);
          reject(new RPCError(0, "The server did not answer in time."));
        }, callTimeout);
        this.pending.set(id, { resolve, reject, timer });
        ws.send(JSON.stringify({ jsonrpc: "2.0", method, params, id }));
      });
    }
    return this.post(method, params);
  }

  async post(method, params) {
    this.transport = "http";
    const headers = { "Content-Type": "application/json" };
    if (this.token) headers.Authorization = "Bearer " + this.token;
    let res;
    try {
      res = await fetch(this.api + method, { method: "POST", headers, body: JSON.stringify(params), credentials: "omit" });
    } catch {
      throw new RPCError(0, "The server cannot be reached.");
    }
    let msg;
    try {
      msg = await res.json();
    } catch {
      throw new RPCError(res.status, "The server answered " + res.status + " " + res.statusText + ".");
    }
    return new Promise((resolve, reject) => settle(msg, resolve, reject));
  }
}

function settle(msg, resolve, reject) {
  if (msg.error) reject(new RPCError(msg.error.code, msg.error.message, msg.error.data?.meta || {}));
  else resolve(msg.result || {});
}
