// @ts-check
// ml_forecast as a picture: the history sent, the point forecast and each interval band, the model
// stamp under it. The numbers drawn are the result's own (BandChart keeps them on `data-plotted`).

import { BandChart } from "../console/js/chart.js";
import { clear, errorText, fmt, h, table } from "../console/js/ui.js";
import { callerOf, connect, payload } from "./bridge.js";
import { stamp } from "./stamp.js";

const root = /** @type {HTMLElement} */ (document.getElementById("view"));
/** @type {number[]} the history the tool was called with (its input) */
let history = [];

/**
 * An interval band of the result.
 * @typedef {{ level: number, lower: number[], upper: number[] }} Interval
 */

/** @param {import("./bridge.js").ToolResult} result ml_forecast's */
function render(result) {
  /** @type {{ horizon: number, forecast: number[], intervals?: Interval[], warnings?: string[], model: any }} */
  let out;
  try {
    out = payload(result);
  } catch (e) {
    clear(root, h("p", { class: "error", role: "alert" }, errorText(e)));
    return;
  }
  const start = history.length;
  const chart = new BandChart(`forecast, ${out.horizon} steps`, "value");
  const bands = [...(out.intervals || [])].sort((a, b) => b.level - a.level);
  clear(
    root,
    h("section", { class: "charts one" }, chart.canvas),
    stamp(out.model),
    h(
      "details",
      {},
      h("summary", {}, "numbers"),
      table(
        ["step", "forecast", ...bands.map((b) => `${Math.round(b.level * 100)}% interval`)],
        out.forecast.map((v, i) => h("tr", {}, h("td", {}, String(i + 1)), h("td", {}, fmt(v, 3)), bands.map((b) => h("td", {}, `${fmt(b.lower[i], 3)} … ${fmt(b.upper[i], 3)}`)))),
        { id: "forecast-table" },
      ),
    ),
    (out.warnings || []).map((w) => h("p", { class: "warning" }, w)),
  );
  root.dataset.caller = callerOf(result).subject || "";
  const lines = [];
  // the history joins the forecast: its last point starts the forecast line
  if (history.length) lines.push({ name: "history", start: 0, values: history });
  lines.push({ name: "forecast", start, values: out.forecast });
  chart.set(
    lines,
    bands.map((b) => ({ name: `${Math.round(b.level * 100)}% interval`, start, lower: b.lower, upper: b.upper })),
  );
}

connect("mlgate-forecast", {
  onInput: (args) => (history = Array.isArray(args.history) ? args.history.filter(Number.isFinite) : []),
  onResult: render,
});
