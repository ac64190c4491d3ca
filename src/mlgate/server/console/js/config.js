// @ts-check
// What the page agrees on with the server, read from the page itself: console_routes.py (the console)
// and apps.py (the MCP Apps views) write it into <meta name="mlgate-config"> from mlgate's own
// constants, so no protocol version or scope name is copied into these scripts.

/**
 * The scope names by their short name (`scope.halt` is the scope a halt needs).
 * @typedef {{ read: string, infer: string, manage: string, halt: string, audit: string, admin: string }} ScopeNames
 */

/**
 * @typedef {object} PageConfig
 * @property {string} protocolVersion the MCP protocol version the console offers at `initialize`
 * @property {string[]} scopes every scope, in the order the sign-in lists them
 * @property {ScopeNames} scope the same scopes by short name
 * @property {string} [appsProtocolVersion] the MCP Apps version a view offers at `ui/initialize`
 */

/** @returns {PageConfig} */
function read() {
  const meta = document.querySelector('meta[name="mlgate-config"]');
  if (!(meta instanceof HTMLMetaElement) || !meta.content) {
    throw new Error("this page has no mlgate-config: open it from an mlgate server (/console/ or an MCP Apps view)");
  }
  return JSON.parse(meta.content);
}

export const config = read();
export const SCOPE = config.scope;
