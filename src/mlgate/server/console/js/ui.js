// @ts-check
// DOM helpers shared by the pages: elements, scope-gated buttons, a confirm dialog, notices.

import { SCOPE } from "./config.js";

/**
 * What `h` and `clear` take as children: nodes, text (numbers become text) and lists of them, two
 * levels deep; null, undefined and false are skipped.
 * @typedef {Node | string | number | null | undefined | false} Leaf
 * @typedef {Leaf | Leaf[] | (Leaf | Leaf[])[]} Child
 */

/**
 * An element with attributes (`on…` functions become listeners, `dataset` fills data-*, true is an
 * empty attribute; null, undefined and false are left out) and children.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, any> | null} [attrs]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  for (const c of flat(children)) el.append(c);
  return el;
}

/**
 * The children as nodes and text, nested lists flattened, the skipped values gone.
 * @param {readonly unknown[]} children
 * @returns {(Node | string)[]}
 */
function flat(children) {
  /** @type {(Node | string)[]} */
  const out = [];
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) out.push(...flat(c));
    else out.push(c instanceof Node ? c : String(c));
  }
  return out;
}

/**
 * `el` with its children replaced by `children`.
 * @template {Element} E
 * @param {E} el
 * @param {...Child} children
 * @returns {E}
 */
export function clear(el, ...children) {
  el.replaceChildren(...flat(children));
  return el;
}

/**
 * The signed-in operator: token scopes decide which buttons are enabled (the server decides the rest).
 * @type {{ scopes: string[], subject: string, client: string | null }}
 */
export const session = { scopes: [], subject: "", client: null };

/**
 * @param {string} scope
 * @returns {boolean}
 */
export function can(scope) {
  return session.scopes.includes(scope) || session.scopes.includes(SCOPE.admin);
}

/**
 * A button for an action needing `scope`: disabled, with the scope named, when the token lacks it.
 * The handler stays attached: a button enabled by editing the page still calls, and the server refuses.
 * @param {string} label
 * @param {string} scope
 * @param {(event: MouseEvent) => unknown} onclick
 * @param {Record<string, any>} [attrs]
 * @returns {HTMLElement}
 */
export function action(label, scope, onclick, attrs = {}) {
  const allowed = can(scope);
  const button = h(
    "button",
    { type: "button", ...attrs, disabled: !allowed || attrs.disabled, title: allowed ? `needs ${scope}` : `your token lacks ${scope}`, dataset: { scope } },
    label,
  );
  button.addEventListener("click", onclick);
  if (allowed) return button;
  return h("span", { class: "gated" }, button, h("small", { class: "needs" }, `needs ${scope}`));
}

/**
 * Resolves true when the operator confirms `message` in a modal dialog.
 * @param {string} title
 * @param {string} message
 * @param {string} [confirmLabel]
 * @returns {Promise<boolean>}
 */
export function confirmDialog(title, message, confirmLabel = "Confirm") {
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "confirm", id: "confirm-dialog" });
    /** @param {boolean} answer */
    const done = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    dialog.append(
      h("h3", {}, title),
      h("p", {}, message),
      h(
        "div",
        { class: "row" },
        h("button", { type: "button", id: "confirm-yes", class: "danger", onclick: () => done(true) }, confirmLabel),
        h("button", { type: "button", id: "confirm-no", onclick: () => done(false) }, "Cancel"),
      ),
    );
    dialog.addEventListener("cancel", () => done(false));
    document.body.append(dialog);
    dialog.showModal();
  });
}

/**
 * A notice at the top of the page (errors stay, the others go after 8 s); the four newest are kept.
 * @param {string} text
 * @param {"info" | "ok" | "error"} [kind]
 * @returns {HTMLElement}
 */
export function notice(text, kind = "info") {
  const box = /** @type {HTMLElement} */ (document.getElementById("notices"));
  const item = h("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
  box.prepend(item);
  while (box.children.length > 4) box.lastChild?.remove();
  if (kind !== "error") setTimeout(() => item.remove(), 8000);
  return item;
}

/**
 * The message of a caught error (anything may be thrown).
 * @param {unknown} error
 * @returns {string}
 */
export function errorText(error) {
  return error instanceof Error ? error.message : String(error);
}

/**
 * A number with at most `digits` decimals (0.9900 → 0.99), "—" for nothing, other values as text.
 * @param {unknown} value
 * @param {number} [digits]
 * @returns {string}
 */
export function fmt(value, digits = 1) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  if (typeof value === "number") return String(Number(value.toFixed(digits)));
  return String(value);
}

/**
 * @param {number | null | undefined} n a size in bytes
 * @returns {string}
 */
export function bytes(n) {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KB", "MB", "GB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

/**
 * @param {string[]} headers
 * @param {Child[]} rows
 * @param {Record<string, any>} [attrs]
 * @returns {HTMLTableElement}
 */
export function table(headers, rows, attrs = {}) {
  return h("table", attrs, h("thead", {}, h("tr", {}, headers.map((t) => h("th", {}, t)))), h("tbody", {}, ...rows));
}

/**
 * The first `n` characters of a digest, the whole in its title.
 * @param {string | null | undefined} digest
 * @param {number} [n]
 * @returns {HTMLElement | string}
 */
export function short(digest, n = 12) {
  return digest ? h("code", { title: digest }, digest.slice(0, n)) : "—";
}
