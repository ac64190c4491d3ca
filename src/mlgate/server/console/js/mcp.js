// @ts-check
// A small MCP client over streamable HTTP: initialize once, then tools/call with the session id.
// Every read and action of the console goes through `call`, with the operator's bearer token.
// The protocol version offered at initialize is the server's (config.js); later requests carry the
// version the server answered with.

import { config } from "./config.js";

/**
 * What the pages call tools through: this client in the console, the host bridge in a view. A tool's
 * result is its structured content, shaped by the tool's output schema (so `any` here).
 * @typedef {{ call(name: string, args?: Record<string, unknown>): Promise<any> }} Caller
 */

/** @typedef {"tool" | "scope" | "auth" | "http" | "rpc"} ErrorKind */

export class ToolError extends Error {
  /**
   * @param {ErrorKind} kind "tool" (an isError result), "scope" (403 insufficient_scope), "auth" (401), "http", "rpc"
   * @param {string} message
   * @param {{ scope?: string }} [extra]
   */
  constructor(kind, message, extra = {}) {
    super(message);
    this.kind = kind;
    /** @type {string | undefined} the scope a 403 named */
    this.scope = extra.scope;
  }
}

/**
 * The parameters of a `WWW-Authenticate: Bearer k="v", …` header.
 * @param {string | null} header
 * @returns {Record<string, string>}
 */
function challenge(header) {
  /** @type {Record<string, string>} */
  const out = {};
  for (const m of (header || "").matchAll(/(\w+)="([^"]*)"/g)) out[m[1]] = m[2];
  return out;
}

/**
 * The JSON-RPC messages of a response: one JSON body, or the events of an SSE stream.
 * @param {Response} response
 * @returns {Promise<any[]>}
 */
async function messages(response) {
  const type = response.headers.get("content-type") || "";
  const text = await response.text();
  if (type.includes("application/json")) return text ? [JSON.parse(text)] : [];
  const out = [];
  for (const event of text.split(/\r?\n\r?\n/)) {
    const data = event
      .split(/\r?\n/)
      .filter((line) => line.startsWith("data:"))
      .map((line) => line.slice(5).trimStart())
      .join("\n");
    if (data) out.push(JSON.parse(data));
  }
  return out;
}

/** @implements {Caller} */
export class McpClient {
  /**
   * @param {string} url the MCP endpoint
   * @param {string} token the operator's bearer token
   * @param {() => void} [onUnauthorized] called when the server refuses the token (401)
   */
  constructor(url, token, onUnauthorized = () => {}) {
    this.url = url;
    this.token = token;
    this.onUnauthorized = onUnauthorized;
    /** @type {string | null} */
    this.session = null;
    this.protocol = config.protocolVersion;
    this.nextId = 1;
    /** @type {Promise<void> | null} */
    this.ready = null;
  }

  /** @returns {Record<string, string>} */
  headers() {
    /** @type {Record<string, string>} */
    const h = {
      "Content-Type": "application/json",
      Accept: "application/json, text/event-stream",
      Authorization: `Bearer ${this.token}`,
      "Mcp-Protocol-Version": this.protocol,
    };
    if (this.session) h["Mcp-Session-Id"] = this.session;
    return h;
  }

  /**
   * @param {object} body a JSON-RPC message
   * @returns {Promise<Response>}
   */
  async post(body) {
    const response = await fetch(this.url, { method: "POST", headers: this.headers(), body: JSON.stringify(body) });
    if (response.status === 401) {
      this.onUnauthorized();
      throw new ToolError("auth", "the token was refused (expired or not for this server): sign in again");
    }
    if (response.status === 403) {
      const c = challenge(response.headers.get("www-authenticate"));
      const scope = c.scope || "";
      throw new ToolError("scope", `refused by the server: this needs the scope ${scope}`, { scope });
    }
    return response;
  }

  /** @returns {Promise<void>} */
  connect() {
    this.ready ??= (async () => {
      const id = this.nextId++;
      this.protocol = config.protocolVersion;
      const response = await this.post({
        jsonrpc: "2.0",
        id,
        method: "initialize",
        params: { protocolVersion: this.protocol, capabilities: {}, clientInfo: { name: "mlgate-console", version: "1" } },
      });
      if (!response.ok) throw new ToolError("http", `initialize failed: HTTP ${response.status}`);
      this.session = response.headers.get("mcp-session-id");
      const reply = (await messages(response)).find((m) => m.id === id);
      if (reply?.error) throw new ToolError("rpc", `initialize: ${reply.error.message}`);
      this.protocol = reply?.result?.protocolVersion || this.protocol; // the version the server chose
      await this.post({ jsonrpc: "2.0", method: "notifications/initialized" });
    })().catch((error) => {
      this.ready = null;
      throw error;
    });
    return this.ready;
  }

  /**
   * The tool's structured result; throws ToolError for an isError result or a refusal.
   * @param {string} name
   * @param {Record<string, unknown>} [args]
   * @param {boolean} [retry] open a new session once when the server forgot this one
   * @returns {Promise<any>}
   */
  async call(name, args = {}, retry = true) {
    await this.connect();
    const id = this.nextId++;
    const response = await this.post({ jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args } });
    if (response.status === 404 && retry) {
      this.ready = null; // the session expired on the server: open a new one, once
      this.session = null;
      return this.call(name, args, false);
    }
    if (!response.ok) throw new ToolError("http", `${name}: HTTP ${response.status}`);
    const reply = (await messages(response)).find((m) => m.id === id);
    if (!reply) throw new ToolError("rpc", `${name}: no answer`);
    if (reply.error) throw new ToolError("rpc", `${name}: ${reply.error.message}`);
    const result = reply.result;
    if (result.isError) {
      const text = (result.content || []).map((/** @type {{ text?: string }} */ c) => c.text || "").join(" ");
      throw new ToolError("tool", text || `${name} failed`);
    }
    return result.structuredContent ?? {};
  }

  /** @returns {Promise<void>} */
  async close() {
    if (!this.session) return;
    await fetch(this.url, { method: "DELETE", headers: this.headers() }).catch(() => {});
    this.session = null;
    this.ready = null;
  }
}
