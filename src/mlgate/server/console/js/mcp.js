// A small MCP client over streamable HTTP: initialize once, then tools/call with the session id.
// Every read and action of the console goes through `call`, with the operator's bearer token.

const PROTOCOL = "2025-11-25";

export class ToolError extends Error {
  // kind: "tool" (an isError result), "scope" (403 insufficient_scope), "auth" (401), "http", "rpc"
  constructor(kind, message, extra = {}) {
    super(message);
    this.kind = kind;
    Object.assign(this, extra);
  }
}

function challenge(header) {
  // the parameters of a `WWW-Authenticate: Bearer k="v", …` header
  const out = {};
  for (const m of (header || "").matchAll(/(\w+)="([^"]*)"/g)) out[m[1]] = m[2];
  return out;
}

async function messages(response) {
  // the JSON-RPC messages of a response: one JSON body, or the events of an SSE stream
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

export class McpClient {
  constructor(url, token, onUnauthorized = () => {}) {
    this.url = url;
    this.token = token;
    this.onUnauthorized = onUnauthorized;
    this.session = null;
    this.nextId = 1;
    this.ready = null;
  }

  headers() {
    const h = {
      "Content-Type": "application/json",
      Accept: "application/json, text/event-stream",
      Authorization: `Bearer ${this.token}`,
      "Mcp-Protocol-Version": PROTOCOL,
    };
    if (this.session) h["Mcp-Session-Id"] = this.session;
    return h;
  }

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

  connect() {
    this.ready ??= (async () => {
      const response = await this.post({
        jsonrpc: "2.0",
        id: this.nextId++,
        method: "initialize",
        params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: "mlgate-console", version: "1" } },
      });
      if (!response.ok) throw new ToolError("http", `initialize failed: HTTP ${response.status}`);
      this.session = response.headers.get("mcp-session-id");
      await messages(response);
      await this.post({ jsonrpc: "2.0", method: "notifications/initialized" });
    })().catch((error) => {
      this.ready = null;
      throw error;
    });
    return this.ready;
  }

  // The tool's structured result; throws ToolError for an isError result or a refusal.
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
      const text = (result.content || []).map((c) => c.text || "").join(" ");
      throw new ToolError("tool", text || `${name} failed`);
    }
    return result.structuredContent ?? {};
  }

  async close() {
    if (!this.session) return;
    await fetch(this.url, { method: "DELETE", headers: this.headers() }).catch(() => {});
    this.session = null;
    this.ready = null;
  }
}
