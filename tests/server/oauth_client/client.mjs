// mlgate test: the official MCP TypeScript SDK as an OAuth client of mlgate's development authorization server.
//
//   node client.mjs <MCP URL> <scope> <tool to call> <a tool outside the scope>
//
// Discovery and registration with the SDK's own functions (401 -> protected-resource metadata -> RFC 8414
// metadata -> RFC 7591 registration), then the SDK's ClientCredentialsProvider drives the token request with
// `resource=` and retries the MCP connection. Prints one JSON object on stdout; exits 1 on any failure.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ClientCredentialsProvider } from "@modelcontextprotocol/sdk/client/auth-extensions.js";
import { discoverOAuthServerInfo, registerClient } from "@modelcontextprotocol/sdk/client/auth.js";

const [url, scope, tool, outside] = process.argv.slice(2);
const report = { url, scope };
try {
  const unauthenticated = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  report.challenge = { status: unauthenticated.status, header: unauthenticated.headers.get("www-authenticate") };

  const info = await discoverOAuthServerInfo(new URL(url));
  report.issuer = info.authorizationServerMetadata?.issuer;
  report.authorizationServers = info.resourceMetadata?.authorization_servers;
  report.resource = info.resourceMetadata?.resource;
  const registered = await registerClient(info.authorizationServerUrl, {
    metadata: info.authorizationServerMetadata,
    clientMetadata: {
      client_name: "mlgate-sdk-test", redirect_uris: [], grant_types: ["client_credentials"],
      token_endpoint_auth_method: "client_secret_basic", scope,
    },
  });
  report.registeredScope = registered.scope;

  const provider = new ClientCredentialsProvider({
    clientId: registered.client_id, clientSecret: registered.client_secret, scope,
    expectedIssuer: String(info.authorizationServerUrl), clientName: "mlgate-sdk-test",
  });
  const client = new Client({ name: "mlgate-sdk-test", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { authProvider: provider }));
  report.tools = (await client.listTools()).tools.map((t) => t.name);
  const result = await client.callTool({ name: tool, arguments: {} });
  report.call = { isError: Boolean(result.isError), structured: result.structuredContent };
  report.tokenScope = provider.tokens()?.scope;
  try {
    await client.callTool({ name: outside, arguments: {} });
    report.outside = { refused: false };
  } catch (error) {
    report.outside = { refused: true, message: String(error?.message ?? error) };
  }
  await client.close();
  report.ok = true;
} catch (error) {
  report.ok = false;
  report.error = String(error?.stack ?? error);
}
process.stdout.write(JSON.stringify(report) + "\n");
process.exit(report.ok ? 0 : 1);
