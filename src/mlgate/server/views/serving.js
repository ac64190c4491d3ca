// @ts-check
// ml_serving_status as the serving panel: per model calls/s, p50/p99, refusals and live quality, the
// halts in force, and a Halt button that asks the host to call ml_halt (with the user's own token: the
// call is scoped and ledgered like any other). The button is disabled ("needs" the halt scope) when the
// token lacks it. Rates come from two readings: the panel asks for the status again every few seconds.

import { perModel } from "../console/js/serving.js";
import { pollQuality } from "../console/js/quality.js";
import { action, clear, errorText, fmt, h, session, table } from "../console/js/ui.js";
import { callerOf, connect, mcp, payload } from "./bridge.js";
import { SCOPE } from "../console/js/config.js";

const PERIOD_MS = 3000;
const root = /** @type {HTMLElement} */ (document.getElementById("view"));
const reason = h("input", { id: "halt-reason", type: "text", size: 40, maxlength: 1000, value: "halted from the serving view", "aria-label": "reason" });
const message = h("p", { id: "message", class: "muted", role: "status" });
const body = h("tbody", { id: "serving-models" });
const haltsBox = h("div", { id: "halts" });
/** @type {Map<string, HTMLTableCellElement>} model → its quality cell */
const quality = new Map();
/** @type {{ t: number, per: Record<string, import("../console/js/serving.js").ModelCounts> } | null} the previous reading */
let last = null;
/** @type {string[]} */
let names = [];
let polling = false;

/**
 * @param {string} name
 * @returns {HTMLTableCellElement}
 */
function qualityCell(name) {
  let cell = quality.get(name);
  if (!cell) quality.set(name, (cell = h("td", { class: "quality" }, h("span", { class: "muted" }, "…"))));
  return cell;
}

/** @param {string | null} model null: all serving */
async function halt(model) {
  const why = reason.value.trim();
  if (!why) {
    message.textContent = "a halt needs a reason";
    return;
  }
  try {
    const r = await mcp.call("ml_halt", model ? { model, reason: why } : { reason: why });
    message.textContent = `halted ${r.scope === "*" ? "all serving" : r.scope} by ${r.by}: ${r.reason}`;
    message.className = "good";
    refresh();
  } catch (e) {
    message.textContent = errorText(e);
    message.className = "error";
  }
}

/**
 * @param {any} status ml_serving_status's structured result
 * @param {number} now milliseconds (performance.now())
 */
function render(status, now) {
  const per = perModel(status);
  const dt = last ? (now - last.t) / 1000 : null;
  /** @type {{ scope: string, reason: string, by: string, at: string }[]} */
  const halts = status.halts || [];
  names = [...new Set([...Object.keys(per), ...halts.map((x) => x.scope).filter((s) => s !== "*")])].sort();
  clear(
    body,
    names.map((name) => {
      const m = per[name];
      const before = last?.per[name];
      const rate = dt && m && before && m.calls !== null && before.calls !== null ? Math.max(0, m.calls - before.calls) / dt : null;
      const halted = halts.some((x) => x.scope === name || x.scope === "*");
      return h(
        "tr",
        { dataset: { model: name } },
        h("th", { scope: "row" }, name),
        h("td", { class: `state ${halted ? "bad" : "good"}` }, halted ? "halted" : "serving"),
        h("td", { class: "rate" }, fmt(rate, 2)),
        h("td", { class: "p50" }, fmt(m?.p50, 2)),
        h("td", { class: "p99" }, fmt(m?.p99, 2)),
        h("td", { class: "refused" }, fmt(m?.refused, 0)),
        qualityCell(name),
        h("td", { class: "actions" }, halted ? "" : action("Halt", SCOPE.halt, () => halt(name), { class: "halt danger" })),
      );
    }),
  );
  last = { t: now, per };
  clear(
    haltsBox,
    halts.length
      ? table(["scope", "reason", "by", "at"], halts.map((x) => h("tr", { dataset: { scope: x.scope } }, h("td", {}, x.scope === "*" ? "ALL serving" : x.scope), h("td", { class: "reason" }, x.reason), h("td", {}, x.by), h("td", {}, x.at))), { id: "halts-table" })
      : h("p", { class: "muted", id: "no-halts" }, "No halts in force."),
  );
}

async function refresh() {
  try {
    render(await mcp.call("ml_serving_status"), performance.now());
  } catch (e) {
    message.textContent = `status unavailable: ${errorText(e)}`;
  }
}

/** @param {import("./bridge.js").ToolResult} result ml_serving_status's, from the host */
function start(result) {
  let status;
  try {
    status = payload(result);
  } catch (e) {
    clear(root, h("p", { class: "error", role: "alert" }, errorText(e)));
    return;
  }
  session.scopes = callerOf(result).scopes || [];
  clear(
    root,
    h("h2", {}, "Serving ", h("small", { class: "muted" }, `up ${fmt(status.uptime_s, 0)} s`)),
    table(["model", "state", "calls/s", "p50 ms", "p99 ms", "refused", "live quality", ""], [], { id: "serving-table" }),
    h("div", { class: "row" }, h("label", { for: "halt-reason" }, "Reason "), reason),
    message,
    h("h3", {}, "Halts in force"),
    haltsBox,
  );
  root.querySelector("#serving-table tbody")?.replaceWith(body);
  render(status, performance.now());
  if (polling) return;
  polling = true;
  setInterval(refresh, PERIOD_MS);
  pollQuality(mcp, () => names, qualityCell, (name, degraded) => body.querySelector(`tr[data-model="${CSS.escape(name)}"]`)?.classList.toggle("degraded", degraded));
}

connect("mlgate-serving", { onResult: start });
