// @ts-check
// The console's entry: sign in (code + PKCE, or a pasted token), then the pages, each an MCP client view.

import { MCP_PATH, discover, finishSignIn, forget, save, saved, signIn } from "./auth.js";
import { auditPage } from "./audit.js";
import { SCOPE, config } from "./config.js";
import { McpClient } from "./mcp.js";
import { modelsPage } from "./models.js";
import { servingPage } from "./serving.js";
import { skillsPage } from "./skills.js";
import { supplyPage } from "./supply.js";
import { clear, errorText, h, notice, session } from "./ui.js";

/**
 * A page fills `root` from tool calls and returns what stops its timers (or nothing).
 * @typedef {(mcp: import("./mcp.js").Caller, root: HTMLElement) => (() => void) | void} Page
 */

/** @type {Record<string, [string, Page]>} */
const PAGES = {
  serving: ["Serving", servingPage],
  models: ["Models", modelsPage],
  audit: ["Audit", auditPage],
  skills: ["Skills", skillsPage],
  supply: ["Pull and compile", supplyPage],
};
const main = /** @type {HTMLElement} */ (document.getElementById("main"));
const nav = /** @type {HTMLElement} */ (document.getElementById("nav"));
const who = /** @type {HTMLElement} */ (document.getElementById("who"));
/** @type {() => void} */
let stop = () => {};
/** @type {McpClient | null} */
let mcp = null;

function route() {
  stop();
  const name = location.hash.slice(1) in PAGES ? location.hash.slice(1) : "serving";
  for (const a of nav.querySelectorAll("a")) a.classList.toggle("active", a.dataset.page === name);
  document.title = `${PAGES[name][0]} — mlgate console`;
  if (mcp) stop = PAGES[name][1](mcp, main) || (() => {});
}

function signOut() {
  stop();
  mcp?.close();
  forget();
  location.hash = "";
  start();
}

/** @param {import("./auth.js").Token} token */
function open(token) {
  session.scopes = token.scopes;
  session.subject = token.subject;
  mcp = new McpClient(MCP_PATH, token.access_token, () => notice("the server refused the token: sign in again", "error"));
  clear(
    nav,
    Object.entries(PAGES).map(([key, [label]]) => h("a", { href: `#${key}`, dataset: { page: key } }, label)),
  );
  clear(
    who,
    h("span", { id: "subject" }, token.subject || "signed in"),
    " · ",
    h("span", { id: "scopes" }, token.scopes.join(" ") || "no scopes"),
    " ",
    h("button", { type: "button", id: "sign-out", onclick: signOut }, "Sign out"),
  );
  window.onhashchange = route;
  route();
}

async function loginScreen() {
  clear(nav);
  clear(who);
  let supported = config.scopes;
  /** @type {import("./auth.js").ServerMetadata | null} */
  let server = null;
  let home = location.origin;
  try {
    const found = await discover();
    supported = found.resource.scopes_supported || supported;
    server = found.server;
    home = new URL(found.resource.resource).origin;
  } catch (e) {
    notice(`discovery failed: ${errorText(e)}`, "error");
  }
  // tokens are for the canonical address (e.g. 127.0.0.1, not localhost): sign in from there
  const elsewhere = home !== location.origin;
  const boxes = supported.map((s) => h("label", { class: "scope" }, h("input", { type: "checkbox", value: s, checked: s !== SCOPE.admin, name: "scope" }), ` ${s}`));
  const pasted = h("textarea", { id: "pasted-token", rows: 4, cols: 70, placeholder: "a bearer token for this server" });
  clear(
    main,
    h("h2", {}, "Sign in"),
    h(
      "section",
      { class: "card" },
      h("p", {}, server ? `Authorization server: ${server.issuer}` : "This server names no authorization server: paste a token below."),
      elsewhere ? h("p", { class: "bad" }, "This server's address is ", h("a", { href: `${home}/console/` }, `${home}/console/`), ": sign in there.") : null,
      h("div", { id: "scope-choice" }, boxes),
      h(
        "button",
        {
          type: "button",
          id: "sign-in",
          disabled: !server || elsewhere,
          onclick: () => signIn(boxes.map((b) => /** @type {HTMLInputElement} */ (b.firstChild)).filter((i) => i.checked).map((i) => i.value)).catch((e) => notice(e.message, "error")),
        },
        "Sign in",
      ),
    ),
    h(
      "section",
      { class: "card" },
      h("p", {}, "Or paste a token (e.g. from ", h("code", {}, "mlgate token --scope …"), "):"),
      pasted,
      h("div", {}, h("button", { type: "button", id: "use-token", onclick: () => pasted.value.trim() && open(save(pasted.value.trim(), null, null)) }, "Use this token")),
    ),
  );
}

/** @returns {Promise<void>} */
async function start() {
  try {
    const fresh = await finishSignIn();
    if (fresh) return open(fresh);
  } catch (e) {
    notice(errorText(e), "error");
  }
  const token = saved();
  if (token) return open(token);
  return loginScreen();
}

start();
