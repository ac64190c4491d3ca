// The console's entry: sign in (code + PKCE, or a pasted token), then the pages, each an MCP client view.

import { MCP_PATH, discover, finishSignIn, forget, save, saved, signIn } from "./auth.js";
import { auditPage } from "./audit.js";
import { McpClient } from "./mcp.js";
import { modelsPage } from "./models.js";
import { servingPage } from "./serving.js";
import { skillsPage } from "./skills.js";
import { supplyPage } from "./supply.js";
import { clear, h, notice, session } from "./ui.js";

const PAGES = {
  serving: ["Serving", servingPage],
  models: ["Models", modelsPage],
  audit: ["Audit", auditPage],
  skills: ["Skills", skillsPage],
  supply: ["Pull and compile", supplyPage],
};
const main = document.getElementById("main");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
let stop = () => {};
let mcp = null;

function route() {
  stop();
  const name = location.hash.slice(1) in PAGES ? location.hash.slice(1) : "serving";
  for (const a of nav.querySelectorAll("a")) a.classList.toggle("active", a.dataset.page === name);
  document.title = `${PAGES[name][0]} — mlgate console`;
  stop = PAGES[name][1](mcp, main) || (() => {});
}

function signOut() {
  stop();
  mcp?.close();
  forget();
  location.hash = "";
  start();
}

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
  let supported = ["ml:read", "ml:infer", "ml:manage", "ml:halt", "ml:audit", "ml:admin"];
  let server = null;
  let home = location.origin;
  try {
    const found = await discover();
    supported = found.resource.scopes_supported || supported;
    server = found.server;
    home = new URL(found.resource.resource).origin;
  } catch (e) {
    notice(`discovery failed: ${e.message}`, "error");
  }
  // tokens are for the canonical address (e.g. 127.0.0.1, not localhost): sign in from there
  const elsewhere = home !== location.origin;
  const boxes = supported.map((s) => h("label", { class: "scope" }, h("input", { type: "checkbox", value: s, checked: s !== "ml:admin", name: "scope" }), ` ${s}`));
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
          onclick: () => signIn(boxes.map((b) => b.firstChild).filter((i) => i.checked).map((i) => i.value)).catch((e) => notice(e.message, "error")),
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

async function start() {
  try {
    const fresh = await finishSignIn();
    if (fresh) return open(fresh);
  } catch (e) {
    notice(e.message, "error");
  }
  const token = saved();
  if (token) return open(token);
  return loginScreen();
}

start();
