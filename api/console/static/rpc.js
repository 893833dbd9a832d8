// JSON-RPC 2.0 over the agent's WebSocket (docs/websocket-api.md).
// Browsers cannot set headers on a WebSocket, so the token travels as the
// subprotocol pair "posbridge.v1", "bearer.TOKEN".

export const SUBPROTOCOL = "posbridge.v1";

/** An error answered by the agent (JSON-RPC error object) or by the transport. */
export class RpcError extends Error {
  constructor(code, message, data) {
    super(message);
    this.name = "RpcError";
    this.code = code;
    this.data = data;
  }
}

/** Code of transport failures (connection lost, timeout). */
export const TRANSPORT = 0;

// RFC 6455 subprotocols are HTTP tokens; anything else makes the browser throw.
const TOKEN_CHARS = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Reports whether a token can be sent as a WebSocket subprotocol. */
export function tokenSendable(token) {
  return TOKEN_CHARS.test(token);
}

/** The agent's WebSocket URL, derived from the page's own address. */
export function wsURL(loc = window.location) {
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${loc.host}/v1/ws`;
}

/**
 * One WebSocket connection. Events: "notify" (detail {method, params}) and
 * "close" (detail {code, reason}) once an open connection ends.
 */
export class RpcClient extends EventTarget {
  constructor(url, token) {
    super();
    this.url = url;
    this.token = token;
    this.ws = null;
    this.nextId = 1;
    this.pending = new Map();
    this.open = false;
  }

  /** Opens the connection; rejects when it closes before opening. */
  connect() {
    return new Promise((resolve, reject) => {
      let ws;
      try {
        ws = new WebSocket(this.url, [SUBPROTOCOL, "bearer." + this.token]);
      } catch (e) {
        reject(new RpcError(TRANSPORT, "the token cannot be sent by a browser"));
        return;
      }
      this.ws = ws;
      ws.addEventListener("open", () => {
        this.open = true;
        resolve();
      });
      ws.addEventListener("message", (ev) => this.onMessage(ev.data));
      ws.addEventListener("close", (ev) => {
        const wasOpen = this.open;
        this.open = false;
        for (const p of this.pending.values()) {
          clearTimeout(p.timer);
          p.reject(new RpcError(TRANSPORT, "connection to the agent lost"));
        }
        this.pending.clear();
        if (wasOpen) {
          this.dispatchEvent(new CustomEvent("close", { detail: { code: ev.code, reason: ev.reason } }));
        } else {
          reject(new RpcError(TRANSPORT, "could not connect to the agent"));
        }
      });
    });
  }

  /** Calls a method; resolves with its result, rejects with an RpcError. */
  call(method, params = {}, timeoutMs = 30000) {
    if (!this.open) {
      return Promise.reject(new RpcError(TRANSPORT, "not connected to the agent"));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RpcError(TRANSPORT, `no answer from the agent within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
    });
  }

  onMessage(text) {
    let msgs;
    try {
      msgs = JSON.parse(text);
    } catch {
      return;
    }
    for (const m of Array.isArray(msgs) ? msgs : [msgs]) {
      if (m && m.id !== undefined && m.id !== null) {
        const p = this.pending.get(m.id);
        if (!p) continue;
        this.pending.delete(m.id);
        clearTimeout(p.timer);
        if (m.error) {
          p.reject(new RpcError(m.error.code, m.error.message, m.error.data));
        } else {
          p.resolve(m.result);
        }
      } else if (m && typeof m.method === "string") {
        this.dispatchEvent(new CustomEvent("notify", { detail: { method: m.method, params: m.params } }));
      }
    }
  }

  /** Closes the connection (no "close" event is lost: listeners still hear it). */
  close() {
    if (this.ws) this.ws.close(1000, "signed out");
  }
}
