// @ts-check
// Live quality beside traffic: ml_performance per model shown, every 10 s (its joins cost more than a
// status). Per version: the headline live metric next to its registered value, the matched actuals,
// and the degradation alerts (each names the rule that fired). Models that capture nothing: "no actuals".

import { clear, errorText, fmt, h } from "./ui.js";

export const QUALITY_PERIOD_MS = 10_000;

// The headline metric of an interface (the live promotion gate's): accuracy for classifiers, else MAE.
/** @type {Record<string, string>} */
const HEADLINE = { classifier: "accuracy", predictor: "mae", forecaster: "mae" };

/**
 * One version of an ml_performance result (the fields shown here).
 * @typedef {object} VersionQuality
 * @property {number | string} version
 * @property {string} kind
 * @property {number} predictions
 * @property {number} matched
 * @property {Record<string, number>} live
 * @property {Record<string, number>} registered
 * @property {string[]} alerts
 */

/**
 * @param {VersionQuality} v
 * @returns {HTMLElement}
 */
function versionLine(v) {
  const metric = HEADLINE[v.kind] || Object.keys(v.live)[0];
  if (!v.matched || !metric || v.live[metric] === undefined) {
    return h("div", { class: "version", dataset: { version: v.version } }, `v${v.version}: ${v.predictions} captured, no actuals`);
  }
  const registered = v.registered[metric];
  return h(
    "div",
    { class: "version", dataset: { version: v.version } },
    `v${v.version}: `,
    h("span", { class: "metric" }, `${metric} ${fmt(v.live[metric], 3)}`),
    h("span", { class: "registered muted" }, ` (registered ${fmt(registered, 3)})`),
    " · ",
    h("span", { class: "matched" }, `${v.matched} actuals`),
  );
}

/**
 * Fills the quality cell of one serving row from one ml_performance result; true when degraded.
 * @param {HTMLElement} cell
 * @param {{ versions?: VersionQuality[] }} perf
 * @returns {boolean}
 */
export function renderQuality(cell, perf) {
  const versions = (perf.versions || []).filter((v) => v.predictions || v.matched);
  const alerts = versions.flatMap((v) => v.alerts.map((a) => h("div", { class: "alert" }, `v${v.version}: ${a}`)));
  const degraded = alerts.length > 0;
  cell.className = `quality${degraded ? " degraded" : ""}`;
  clear(
    cell,
    versions.length ? versions.map(versionLine) : h("span", { class: "muted" }, "no actuals"),
    degraded ? h("span", { class: "badge bad" }, "degraded") : null,
    alerts,
  );
  return degraded;
}

/**
 * Polls ml_performance for `names()` every QUALITY_PERIOD_MS into `cellOf(name)` until stopped.
 * @param {import("./mcp.js").Caller} mcp
 * @param {() => string[]} names
 * @param {(name: string) => HTMLElement} cellOf
 * @param {(name: string, degraded: boolean) => void} onDegraded
 * @returns {() => void} stops the polling
 */
export function pollQuality(mcp, names, cellOf, onDegraded) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  let stopped = false;
  async function tick() {
    await Promise.all(
      names().map(async (name) => {
        try {
          const perf = await mcp.call("ml_performance", { model: name });
          if (!stopped) onDegraded(name, renderQuality(cellOf(name), perf));
        } catch (e) {
          if (!stopped) clear(cellOf(name), h("span", { class: "muted", title: errorText(e) }, "quality unavailable"));
        }
      }),
    );
    if (!stopped) timer = setTimeout(tick, QUALITY_PERIOD_MS);
  }
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
