// A minimal MCP Apps host for the tests: an MCP client on mlgate (the user's token) and, per view, a
// sandboxed frame joined to it by ext-apps' AppBridge. Bundled by esbuild from npm packages (tests only).
import { AppBridge, PostMessageTransport, RESOURCE_MIME_TYPE, getToolUiResourceUri } from "@modelcontextprotocol/ext-apps/app-bridge";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";

const EXTENSION = "io.modelcontextprotocol/ui";
const HOST = { name: "mlgate-test-host", version: "1.0.0" };

async function connect(url, token, apps) {
  const capabilities = apps ? { extensions: { [EXTENSION]: { mimeTypes: [RESOURCE_MIME_TYPE] } } } : {};
  const client = new Client(HOST, { capabilities });
  const headers = { Authorization: `Bearer ${token}` };
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  return client;
}

// What a host makes of `_meta.ui.csp`: nothing but the declared origins (none here), inline code allowed.
function policy(csp = {}) {
  const list = (xs, none = "") => (xs && xs.length ? xs.join(" ") : none);
  return [
    "default-src 'none'",
    `script-src 'unsafe-inline' ${list(csp.resourceDomains)}`,
    `style-src 'unsafe-inline' ${list(csp.resourceDomains)}`,
    `img-src data: ${list(csp.resourceDomains)}`,
    `connect-src ${list(csp.connectDomains, "'none'")}`,
    `frame-src ${list(csp.frameDomains, "'none'")}`,
  ].join("; ");
}

window.host = {
  calls: [], // the tools views asked the host to call, in order

  async start(url, token) {
    this.client = await connect(url, token, true);
    this.tools = (await this.client.listTools()).tools;
    return Object.fromEntries(this.tools.map((t) => [t.name, getToolUiResourceUri(t) || null]));
  },

  // The result a host without the extension gets for the same call.
  async plainCall(url, token, name, args) {
    const plain = await connect(url, token, false);
    try {
      return await plain.callTool({ name, arguments: args });
    } finally {
      await plain.close();
    }
  },

  // Calls `tool`, renders its view in a sandboxed frame with the call's input and result; returns the result.
  async show(tool, args, slot) {
    const uri = getToolUiResourceUri(this.tools.find((t) => t.name === tool));
    const read = await this.client.readResource({ uri });
    const content = read.contents[0];
    if (content.mimeType !== RESOURCE_MIME_TYPE) throw new Error(`${uri} is ${content.mimeType}`);
    const csp = `<meta http-equiv="Content-Security-Policy" content="${policy(content._meta?.ui?.csp)}">`;
    const frame = document.createElement("iframe");
    frame.id = `view-${slot}`;
    frame.setAttribute("sandbox", "allow-scripts");
    frame.srcdoc = content.text.replace("<head>", `<head>${csp}`);
    document.getElementById("views").append(frame);
    const bridge = new AppBridge(this.client, HOST, { serverTools: {}, logging: {} });
    const ready = new Promise((resolve) => (bridge.oninitialized = resolve));
    await bridge.connect(new PostMessageTransport(frame.contentWindow, frame.contentWindow));
    bridge.oncalltool = async (params) => {
      this.calls.push({ name: params.name, arguments: params.arguments });
      return this.client.callTool(params);
    };
    bridge.onsizechange = ({ height }) => height && (frame.style.height = `${Math.min(height + 4, 1400)}px`);
    await ready;
    await bridge.sendToolInput({ arguments: args });
    const result = await this.client.callTool({ name: tool, arguments: args });
    await bridge.sendToolResult(result);
    return result;
  },
};
document.body.dataset.ready = "1";
