// The view's side of MCP Apps (io.modelcontextprotocol/ui): JSON-RPC over postMessage with the host.
// `connect` performs ui/initialize and hands over the tool's input and result as the host sends them;
// `mcp.call` asks the host to call a tool on mlgate (tools/call), so the call carries the user's own
// token and scopes and is ledgered like any other. Nothing here opens a network connection.

const PROTOCOL = "2026-01-26";
const pending = new Map(); // request id → {resolve, reject}
const listeners = {}; // notification method → handler
let nextId = 1;

function send(message) {
  window.parent.postMessage({ jsonrpc: "2.0", ...message }, "*");
}

export function request(method, params = {}) {
  const id = nextId++;
  send({ id, method, params });
  return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
}

window.addEventListener("message", (event) => {
  if (event.source !== window.parent) return; // only the host that framed this view speaks to it
  const m = event.data;
  if (!m || m.jsonrpc !== "2.0") return;
  if (m.method === undefined && pending.has(m.id)) {
    const { resolve, reject } = pending.get(m.id);
    pending.delete(m.id);
    m.error ? reject(new Error(m.error.message || "the host refused the request")) : resolve(m.result);
  } else if (m.method !== undefined && m.id !== undefined) {
    send({ id: m.id, result: {} }); // ping, ui/resource-teardown: nothing to release
  } else if (m.method !== undefined) {
    listeners[m.method]?.(m.params || {});
  }
});

export class ToolError extends Error {}

// The text of an isError result, or the structured content of a successful one.
export function payload(result) {
  if (result?.isError) throw new ToolError((result.content || []).map((c) => c.text || "").join(" ") || "the tool failed");
  return result?.structuredContent ?? {};
}

// Tool calls through the host, with the interface the console's modules use (`call(name, args)`).
export const mcp = {
  async call(name, args = {}) {
    return payload(await request("tools/call", { name, arguments: args }));
  },
};

// Initialize with the host; `onInput(arguments)` and `onResult(callToolResult)` as the host sends them.
export async function connect(name, { onInput = () => {}, onResult = () => {} } = {}) {
  listeners["ui/notifications/tool-input"] = (p) => onInput(p.arguments || {});
  listeners["ui/notifications/tool-result"] = (p) => onResult(p);
  listeners["ui/notifications/tool-cancelled"] = (p) => onResult({ isError: true, content: [{ type: "text", text: p.reason || "cancelled" }] });
  const init = await request("ui/initialize", {
    appInfo: { name, version: "1" },
    appCapabilities: {},
    protocolVersion: PROTOCOL,
  });
  send({ method: "ui/notifications/initialized", params: {} });
  const report = () => send({ method: "ui/notifications/size-changed", params: { width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight } });
  new ResizeObserver(report).observe(document.body);
  return init;
}

// Who the user is, from the result's `_meta` (mlgate adds it for hosts with the Apps extension).
export function callerOf(result) {
  return result?._meta?.["mlgate/caller"] || { scopes: [] };
}
