// @ts-check
// The view's side of MCP Apps (io.modelcontextprotocol/ui): JSON-RPC over postMessage with the host.
// `connect` performs ui/initialize and hands over the tool's input and result as the host sends them;
// `mcp.call` asks the host to call a tool on mlgate (tools/call), so the call carries the user's own
// token and scopes and is ledgered like any other. Nothing here opens a network connection. The
// extension's version offered at ui/initialize is the server's (the document's mlgate-config, apps.py).

import { config } from "../console/js/config.js";

/**
 * A tool result as the host hands it over (CallToolResult).
 * @typedef {{ isError?: boolean, content?: { type?: string, text?: string }[], structuredContent?: any, _meta?: Record<string, any> }} ToolResult
 */

/** @type {Map<number, { resolve: (result: any) => void, reject: (error: Error) => void }>} request id → its promise */
const pending = new Map();
/** @type {Record<string, (params: any) => void>} notification method → handler */
const listeners = {};
let nextId = 1;

/** @param {Record<string, unknown>} message a JSON-RPC message without its `jsonrpc` */
function send(message) {
  window.parent.postMessage({ jsonrpc: "2.0", ...message }, "*");
}

/**
 * A JSON-RPC request to the host; resolves with its result.
 * @param {string} method
 * @param {Record<string, unknown>} [params]
 * @returns {Promise<any>}
 */
export function request(method, params = {}) {
  const id = nextId++;
  send({ id, method, params });
  return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
}

window.addEventListener("message", (event) => {
  if (event.source !== window.parent) return; // only the host that framed this view speaks to it
  const m = event.data;
  if (!m || m.jsonrpc !== "2.0") return;
  const waiting = m.method === undefined ? pending.get(m.id) : undefined;
  if (waiting) {
    pending.delete(m.id);
    m.error ? waiting.reject(new Error(m.error.message || "the host refused the request")) : waiting.resolve(m.result);
  } else if (m.method !== undefined && m.id !== undefined) {
    send({ id: m.id, result: {} }); // ping, ui/resource-teardown: nothing to release
  } else if (m.method !== undefined) {
    listeners[m.method]?.(m.params || {});
  }
});

export class ToolError extends Error {}

/**
 * The text of an isError result, or the structured content of a successful one.
 * @param {ToolResult | null | undefined} result
 * @returns {any}
 */
export function payload(result) {
  if (result?.isError) throw new ToolError((result.content || []).map((c) => c.text || "").join(" ") || "the tool failed");
  return result?.structuredContent ?? {};
}

/**
 * Tool calls through the host, with the interface the console's modules use (`call(name, args)`).
 * @type {import("../console/js/mcp.js").Caller}
 */
export const mcp = {
  async call(name, args = {}) {
    return payload(await request("tools/call", { name, arguments: args }));
  },
};

/**
 * Initialize with the host; `onInput(arguments)` and `onResult(callToolResult)` as the host sends them.
 * @param {string} name the view's name (appInfo)
 * @param {{ onInput?: (args: Record<string, any>) => void, onResult?: (result: ToolResult) => void }} [handlers]
 * @returns {Promise<any>} the host's ui/initialize result
 */
export async function connect(name, { onInput = () => {}, onResult = () => {} } = {}) {
  listeners["ui/notifications/tool-input"] = (p) => onInput(p.arguments || {});
  listeners["ui/notifications/tool-result"] = (p) => onResult(p);
  listeners["ui/notifications/tool-cancelled"] = (p) => onResult({ isError: true, content: [{ type: "text", text: p.reason || "cancelled" }] });
  if (!config.appsProtocolVersion) throw new Error("this view's mlgate-config names no MCP Apps version (apps.py writes it)");
  const init = await request("ui/initialize", {
    appInfo: { name, version: "1" },
    appCapabilities: {},
    protocolVersion: config.appsProtocolVersion,
  });
  send({ method: "ui/notifications/initialized", params: {} });
  const report = () => send({ method: "ui/notifications/size-changed", params: { width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight } });
  new ResizeObserver(report).observe(document.body);
  return init;
}

/**
 * Who the user is, from the result's `_meta` (mlgate adds it for hosts with the Apps extension).
 * @param {ToolResult | null | undefined} result
 * @returns {{ subject?: string, scopes: string[] }}
 */
export function callerOf(result) {
  return result?._meta?.["mlgate/caller"] || { scopes: [] };
}
