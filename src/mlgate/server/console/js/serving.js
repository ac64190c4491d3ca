// @ts-check
// Serving: live per-model traffic from ml_serving_status every 1.5 s, the kill switch, active halts.
// The table's calls/s counts every call; the chart plots served (ok) calls, which go flat on a halt
// while the refusals chart rises. p50/p99 are the server's, over its lifetime.
// Per-model counts come from the status's `traffic` (cumulative per registered model; rates are deltas);
// a server without it falls back to the batch queues (per model) and the per-tool latency.
// Beside the traffic, each model's live quality (quality.js, every 10 s).

import { LineChart } from "./chart.js";
import { pollQuality } from "./quality.js";
import { action, bytes, clear, confirmDialog, errorText, fmt, h, notice, table } from "./ui.js";
import { SCOPE } from "./config.js";

const PERIOD_MS = 1500;

/**
 * One model's counts in one status (cumulative; null when the server reports none).
 * @typedef {object} ModelCounts
 * @property {number | null} calls
 * @property {number | null} ok
 * @property {number | null} errors
 * @property {number | null} refused
 * @property {number | null} p50
 * @property {number | null} p99
 * @property {number} depth
 * @property {number | null} batch
 */

/**
 * {name: {calls, ok, errors, refused, p50, p99, depth, batch}} from one status.
 * @param {any} status ml_serving_status's structured result
 * @returns {Record<string, ModelCounts>}
 */
export function perModel(status) {
  /** @type {Record<string, ModelCounts>} */
  const out = {};
  /**
   * @param {string} name
   * @returns {ModelCounts}
   */
  const row = (name) => (out[name] ??= { calls: null, ok: null, errors: null, refused: null, p50: null, p99: null, depth: 0, batch: null });
  for (const [key, q] of Object.entries(/** @type {Record<string, any>} */ (status.queues || {}))) {
    const r = row(key.split("@")[0]);
    r.depth += q.queue_depth || 0;
    r.batch = q.mean_batch_size ?? r.batch;
    if (!status.traffic) {
      const calls = (r.calls || 0) + (q.requests || 0);
      const errors = (r.errors || 0) + (q.failed || 0);
      const refused = (r.refused || 0) + (q.refused || 0) + (q.overloaded || 0);
      Object.assign(r, { calls, errors, refused, ok: calls - errors - refused });
      r.p50 = q.latency_ms?.p50 ?? r.p50;
      r.p99 = q.latency_ms?.p99 ?? r.p99;
    }
  }
  for (const t of status.traffic || []) {
    Object.assign(row(t.model), { calls: t.calls, ok: t.ok, errors: t.errors, refused: t.refused, p50: t.p50_ms, p99: t.p99_ms });
  }
  return out;
}

/**
 * @param {any} status
 * @param {string} name
 * @returns {string}
 */
function breakerOf(status, name) {
  /** @type {Record<string, { state: string }>} */
  const all = status.breakers?.breakers || {};
  const states = Object.entries(all).filter(([ref]) => ref.split("@")[0] === name).map(([, b]) => b.state);
  return states.includes("open") ? "open" : states.includes("half_open") ? "half-open" : states[0] || "—";
}

/**
 * @param {any} status
 * @param {string} name
 * @returns {string}
 */
function cacheOf(status, name) {
  /** @type {{ name: string, version: number, bytes: number }[]} */
  const loaded = (status.models || []).filter((/** @type {{ name: string }} */ m) => m.name === name);
  return loaded.length ? `${loaded.map((m) => `v${m.version}`).join(", ")} · ${bytes(loaded.reduce((s, m) => s + m.bytes, 0))}` : "—";
}

/** @typedef {{ tr: HTMLTableRowElement, cells: Record<string, HTMLTableCellElement>, halted: boolean | null }} Row */

/**
 * @param {import("./mcp.js").Caller} mcp
 * @param {HTMLElement} root
 * @returns {() => void}
 */
export function servingPage(mcp, root) {
  const charts = {
    calls: new LineChart("served calls per second", "ok/s"),
    p99: new LineChart("p99 latency", "ms"),
    refused: new LineChart("errors + refusals per second", "/s"),
  };
  const reason = h("input", { id: "halt-reason", type: "text", size: 48, maxlength: 1000, placeholder: "why serving stops (required; every refused caller reads it)" });
  const haltsBox = h("div", { id: "halts" });
  const modelsBody = h("tbody", { id: "serving-models" });
  const toolsBox = h("div", { id: "tool-latency" });
  const summary = h("p", { id: "serving-summary", class: "muted" }, "loading…");
  /** @type {Map<string, Row>} model name → its row */
  const rows = new Map();
  /** @type {string[]} */
  let names = [];
  /** @type {{ t: number, per: Record<string, ModelCounts> } | null} the previous reading */
  let last = null;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  let stopped = false;
  let stopQuality = () => {};

  /** @param {string | null} model null: all serving */
  async function halt(model) {
    const why = reason.value.trim();
    if (!why) {
      notice("a halt needs a reason: type it in the reason field first", "error");
      reason.focus();
      return;
    }
    const what = model ? `Halt serving of ${model}` : "Halt ALL serving";
    if (!(await confirmDialog(`${what}?`, `Reason: “${why}”. Callers are refused at once with this reason.`, "Halt"))) return;
    try {
      const r = await mcp.call("ml_halt", model ? { model, reason: why } : { reason: why });
      notice(`halted ${r.scope} by ${r.by}: ${r.reason}`, "ok");
      tick();
    } catch (e) {
      notice(errorText(e), "error");
    }
  }

  /** @param {string | null} model null: all serving */
  async function resume(model) {
    if (!(await confirmDialog(`Resume ${model || "all serving"}?`, "Calls are served again at once.", "Resume"))) return;
    try {
      const r = await mcp.call("ml_resume", model ? { model } : {});
      notice(r.resumed ? `resumed ${r.scope}` : `nothing was halted at ${r.scope}`, "ok");
      tick();
    } catch (e) {
      notice(errorText(e), "error");
    }
  }

  /**
   * @param {string} name
   * @returns {Row}
   */
  function rowFor(name) {
    const known = rows.get(name);
    if (known) return known;
    const cells = Object.fromEntries(
      ["state", "rate", "p50", "p99", "errors", "refused", "depth", "batch", "breaker", "cache", "quality", "actions"].map((k) => [k, h("td", { class: k })]),
    );
    const tr = h("tr", { dataset: { model: name } }, h("th", { scope: "row" }, name), Object.values(cells));
    /** @type {Row} */
    const entry = { tr, cells, halted: null };
    rows.set(name, entry);
    modelsBody.append(tr);
    return entry;
  }

  /**
   * @param {any} status
   * @param {number} now milliseconds (performance.now())
   */
  function render(status, now) {
    const per = perModel(status);
    const dt = last ? (now - last.t) / 1000 : null;
    /** @type {{ scope: string, reason: string, by: string, at: string }[]} */
    const halts = status.halts || [];
    const haltedAll = halts.some((x) => x.scope === "*");
    const all = [...new Set([...names, ...Object.keys(per), ...halts.map((x) => x.scope).filter((s) => s !== "*")])].sort();
    /** @type {Record<string, number | null>} */
    const calls = {};
    /** @type {Record<string, number | null>} */
    const p99 = {};
    /** @type {Record<string, number | null>} */
    const bad = {};
    for (const name of all) {
      const m = per[name] || {};
      const before = last?.per[name];
      /**
       * @param {"calls" | "ok" | "errors" | "refused"} k
       * @returns {number | null} per second since the previous reading
       */
      const rate = (k) => (dt && before && m[k] !== null && before[k] !== null ? Math.max(0, m[k] - before[k]) / dt : null);
      const entry = rowFor(name);
      const active = halts.find((x) => x.scope === name);
      const c = entry.cells;
      c.state.textContent = active ? "halted" : haltedAll ? "halted (all)" : "serving";
      c.state.className = `state ${active || haltedAll ? "bad" : "good"}`;
      c.rate.textContent = fmt(rate("calls"), 2);
      c.p50.textContent = fmt(m.p50, 2);
      c.p99.textContent = fmt(m.p99, 2);
      c.errors.textContent = fmt(m.errors);
      c.refused.textContent = fmt(m.refused);
      c.depth.textContent = fmt(m.depth ?? 0);
      c.batch.textContent = fmt(m.batch, 2);
      c.breaker.textContent = breakerOf(status, name);
      c.cache.textContent = cacheOf(status, name);
      if (entry.halted !== Boolean(active)) {
        entry.halted = Boolean(active);
        clear(c.actions, active ? action("Resume", SCOPE.halt, () => resume(name), { class: "resume" }) : action("Halt", SCOPE.halt, () => halt(name), { class: "halt danger" }));
      }
      if (m.calls !== null && m.calls !== undefined) {
        calls[name] = rate("ok") ?? 0; // flat when halted: refused calls are not served
        p99[name] = m.p99;
        const e = rate("errors"), r = rate("refused");
        bad[name] = e === null && r === null ? null : (e || 0) + (r || 0);
      }
    }
    last = { t: now, per };
    charts.calls.push(calls);
    charts.p99.push(p99);
    charts.refused.push(bad);
    clear(
      haltsBox,
      halts.length
        ? table(
            ["scope", "reason", "by", "at", ""],
            halts.map((x) =>
              h("tr", { dataset: { scope: x.scope } }, h("td", {}, x.scope === "*" ? "ALL serving" : x.scope), h("td", { class: "reason" }, x.reason), h("td", { class: "by" }, x.by), h("td", {}, x.at), h("td", {}, action("Resume", SCOPE.halt, () => resume(x.scope === "*" ? null : x.scope)))),
            ),
            { id: "halts-table" },
          )
        : h("p", { class: "muted", id: "no-halts" }, "No active halts."),
    );
    const lat = Object.entries(/** @type {Record<string, { p50_ms: number, p99_ms: number }>} */ (status.latency || {}));
    clear(toolsBox, lat.length ? table(["tool", "p50 ms", "p99 ms"], lat.map(([t, v]) => h("tr", {}, h("td", {}, t), h("td", {}, fmt(v.p50_ms, 2)), h("td", {}, fmt(v.p99_ms, 2))))) : h("p", { class: "muted" }, "no calls yet"));
    const cache = status.cache || {};
    summary.textContent = `up ${fmt(status.uptime_s, 0)} s · cache ${cache.entries ?? 0} versions, ${bytes(cache.bytes)} of ${bytes(cache.budget_bytes)}, hits ${cache.hits ?? 0}, misses ${cache.misses ?? 0} · ledger ${status.ledger?.healthy === false ? "STALLED" : "healthy"}${status.traffic ? "" : " · per-model counts from batch queues (this server reports no traffic)"}`;
  }

  async function tick() {
    try {
      const status = await mcp.call("ml_serving_status");
      if (!stopped) render(status, performance.now());
    } catch (e) {
      summary.textContent = `status unavailable: ${errorText(e)}`;
    }
  }

  async function loop() {
    await tick();
    if (!stopped) timer = setTimeout(loop, PERIOD_MS);
  }

  async function loadNames() {
    try {
      names = (await mcp.call("ml_list_models")).models.map((/** @type {{ name: string }} */ m) => m.name);
    } catch (e) {
      notice(errorText(e), "error");
    }
  }

  clear(
    root,
    h("h2", {}, "Serving"),
    summary,
    h("section", { class: "charts" }, Object.values(charts).map((c) => c.canvas)),
    h(
      "section",
      { class: "killswitch" },
      h("label", { for: "halt-reason" }, "Reason "),
      reason,
      " ",
      action("Halt all serving", SCOPE.halt, () => halt(null), { id: "halt-all", class: "danger" }),
    ),
    h("h3", {}, "Models"),
    h("table", { id: "serving-table" }, h("thead", {}, h("tr", {}, ["model", "state", "calls/s", "p50 ms", "p99 ms", "errors", "refusals", "queue", "batch", "breaker", "cache", "live quality", ""].map((t) => h("th", {}, t)))), modelsBody),
    h("h3", {}, "Active halts"),
    haltsBox,
    h("h3", {}, "Latency per tool"),
    toolsBox,
  );
  loadNames()
    .then(loop)
    .then(() => {
      if (!stopped) stopQuality = pollQuality(mcp, () => [...rows.keys()], (name) => rowFor(name).cells.quality, (name, bad) => rowFor(name).tr.classList.toggle("degraded", bad));
    });
  return () => {
    stopped = true;
    stopQuality();
    clearTimeout(timer);
  };
}
