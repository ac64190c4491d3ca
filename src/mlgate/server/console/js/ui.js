// DOM helpers shared by the pages: elements, scope-gated buttons, a confirm dialog, notices.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

// The signed-in operator: token scopes decide which buttons are enabled (the server decides the rest).
export const session = { scopes: [], subject: "", client: null };

export function can(scope) {
  return session.scopes.includes(scope) || session.scopes.includes("ml:admin");
}

// A button for an action needing `scope`: disabled, with the scope named, when the token lacks it.
// The handler stays attached: a button enabled by editing the page still calls, and the server refuses.
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

// Resolves true when the operator confirms `message` in a modal dialog.
export function confirmDialog(title, message, confirmLabel = "Confirm") {
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "confirm", id: "confirm-dialog" });
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

export function notice(text, kind = "info") {
  const box = document.getElementById("notices");
  const item = h("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
  box.prepend(item);
  while (box.children.length > 4) box.lastChild.remove();
  if (kind !== "error") setTimeout(() => item.remove(), 8000);
  return item;
}

export function fmt(value, digits = 1) {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  if (typeof value === "number") return String(Number(value.toFixed(digits))); // 0.9900 → 0.99
  return String(value);
}

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

export function table(headers, rows, attrs = {}) {
  return h("table", attrs, h("thead", {}, h("tr", {}, headers.map((t) => h("th", {}, t)))), h("tbody", {}, rows));
}

export function short(digest, n = 12) {
  return digest ? h("code", { title: digest }, digest.slice(0, n)) : "—";
}
