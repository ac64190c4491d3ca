// @ts-check
// Signing in: authorization code + PKCE with the authorization server the protected-resource
// metadata names (a public client registered dynamically: no secret in the page), or a pasted token.
// The token lives in sessionStorage: it ends with the tab.

/**
 * A token as the console keeps it.
 * @typedef {object} Token
 * @property {string} access_token
 * @property {string[]} scopes
 * @property {string} subject
 * @property {number | null} expires_at seconds since the epoch
 */

/**
 * RFC 9728 protected-resource metadata and RFC 8414 authorization-server metadata (the fields used here).
 * @typedef {{ resource: string, authorization_servers?: string[], scopes_supported?: string[] }} ResourceMetadata
 * @typedef {{ issuer: string, authorization_endpoint: string, token_endpoint: string, registration_endpoint?: string }} ServerMetadata
 */

export const MCP_PATH = "/mcp/ml";
const METADATA = `/.well-known/oauth-protected-resource${MCP_PATH}`;
const KEY = "mlgate.console.token";
const PENDING = "mlgate.console.pending";
export const REDIRECT = `${location.origin}/console/`;

/** @param {ArrayBuffer | Uint8Array} bytes */
function b64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

function random() {
  return b64url(crypto.getRandomValues(new Uint8Array(32)));
}

/**
 * @param {string} url
 * @returns {Promise<any>}
 */
async function getJson(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.json();
}

/**
 * The protected resource and its authorization server's metadata (RFC 9728 → RFC 8414).
 * @returns {Promise<{ resource: ResourceMetadata, server: ServerMetadata | null }>}
 */
export async function discover() {
  /** @type {ResourceMetadata} */
  const resource = await getJson(METADATA);
  const issuer = (resource.authorization_servers || [])[0];
  /** @type {ServerMetadata | null} */
  const server = issuer ? await getJson(`${issuer}/.well-known/oauth-authorization-server`) : null;
  return { resource, server };
}

/**
 * Scopes a token carries: the token response's `scope`, else the JWT's `scope` / `scp` claim.
 * @param {string} token
 * @param {string | null | undefined} granted
 * @returns {string[]}
 */
export function tokenScopes(token, granted) {
  if (granted) return granted.split(/\s+/).filter(Boolean);
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(part + "=".repeat((4 - (part.length % 4)) % 4)));
    const scope = claims.scope ?? claims.scp ?? [];
    return Array.isArray(scope) ? scope : String(scope).split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * @param {string} token
 * @returns {string} the JWT's `sub`, or "" for a token that is not a JWT
 */
export function tokenSubject(token) {
  try {
    return JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).sub || "";
  } catch {
    return "";
  }
}

/** @returns {Token | null} this tab's token, unless it has expired */
export function saved() {
  const raw = sessionStorage.getItem(KEY);
  /** @type {Token | null} */
  const t = raw ? JSON.parse(raw) : null;
  if (t && t.expires_at && t.expires_at < Date.now() / 1000) return null;
  return t;
}

/**
 * @param {string} token
 * @param {string | null | undefined} scope the token response's `scope`
 * @param {number | string | null | undefined} expiresIn the token response's `expires_in`
 * @returns {Token}
 */
export function save(token, scope, expiresIn) {
  /** @type {Token} */
  const t = {
    access_token: token,
    scopes: tokenScopes(token, scope),
    subject: tokenSubject(token),
    expires_at: expiresIn ? Date.now() / 1000 + Number(expiresIn) : null,
  };
  sessionStorage.setItem(KEY, JSON.stringify(t));
  return t;
}

export function forget() {
  sessionStorage.removeItem(KEY);
}

/**
 * Step 1: register this page as a public client, then go to the authorization endpoint.
 * @param {string[]} scopes
 * @returns {Promise<void>}
 */
export async function signIn(scopes) {
  const { resource, server } = await discover();
  if (!server) throw new Error("the protected-resource metadata names no authorization server: paste a token");
  if (!server.registration_endpoint) throw new Error("the authorization server has no registration endpoint: paste a token");
  const reg = await fetch(server.registration_endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      client_name: "mlgate console",
      redirect_uris: [REDIRECT],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
      scope: scopes.join(" "),
    }),
  });
  if (!reg.ok) throw new Error(`client registration refused: HTTP ${reg.status}`);
  const client = await reg.json();
  const verifier = random();
  const state = random();
  const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem(
    PENDING,
    JSON.stringify({ verifier, state, client_id: client.client_id, token_endpoint: server.token_endpoint, resource: resource.resource }),
  );
  const url = new URL(server.authorization_endpoint);
  const params = {
    response_type: "code",
    client_id: client.client_id,
    redirect_uri: REDIRECT,
    scope: scopes.join(" "),
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
    resource: resource.resource,
  };
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  location.assign(url.toString());
}

/**
 * Step 2 (back on /console/?code=…&state=…): the code and the PKCE verifier for a token.
 * @returns {Promise<Token | null>} null when this load is not the authorization server's answer
 */
export async function finishSignIn() {
  const query = new URLSearchParams(location.search);
  if (!query.has("code") && !query.has("error")) return null;
  history.replaceState(null, "", REDIRECT); // the code is used once and leaves the address bar
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
  sessionStorage.removeItem(PENDING);
  if (query.has("error")) throw new Error(`sign-in refused: ${query.get("error_description") || query.get("error")}`);
  if (!pending || pending.state !== query.get("state")) throw new Error("sign-in answer does not match this tab's request: start again");
  const body = new URLSearchParams({
    grant_type: "authorization_code",
    code: query.get("code") || "",
    redirect_uri: REDIRECT,
    client_id: pending.client_id,
    code_verifier: pending.verifier,
    resource: pending.resource,
  });
  const r = await fetch(pending.token_endpoint, { method: "POST", body });
  const answer = await r.json();
  if (!r.ok) throw new Error(`token request refused: ${answer.error_description || answer.error}`);
  return save(answer.access_token, answer.scope, answer.expires_in);
}
