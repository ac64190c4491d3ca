// @ts-check
// Models: versions, stages, aliases, interfaces, metrics (ml_list_models, ml_model_info), compare,
// promote with each gate's actual value and threshold, rollback; forced promotions marked.

import { action, can, clear, errorText, fmt, h, notice, short, table } from "./ui.js";
import { SCOPE } from "./config.js";

/** @param {Record<string, number> | null | undefined} m */
const metricsText = (m) => Object.entries(m || {}).map(([k, v]) => `${k} ${fmt(v, 4)}`).join(" · ");

/**
 * "forced by …" when a version was promoted past failing gates (its lineage or stage history says so).
 * @param {any} info ml_model_info's structured result
 * @returns {string | null}
 */
function forcedOf(info) {
  const by = info.lineage?.["mlgate.forced_by"];
  const note = (info.stage_history || []).find((/** @type {{ note?: string }} */ e) => /forced/.test(e.note || ""));
  return by || note ? `forced by ${by || note.by}${info.lineage?.["mlgate.forced_gates"] ? ` past ${info.lineage["mlgate.forced_gates"]}` : ""}` : null;
}

/**
 * "min_r2=0.5, require_drift_check=true" → {min_r2: 0.5, require_drift_check: true}
 * @param {string} text
 * @returns {Record<string, number | boolean>}
 */
export function parseGates(text) {
  /** @type {Record<string, number | boolean>} */
  const gates = {};
  for (const part of text.split(/[,\n]/).map((s) => s.trim()).filter(Boolean)) {
    const [k, v] = part.split("=").map((s) => s.trim());
    if (!k || v === undefined) throw new Error(`gate “${part}” must be name=value, e.g. min_r2=0.4`);
    gates[k] = v === "true" ? true : v === "false" ? false : Number(v);
    if (Number.isNaN(gates[k])) throw new Error(`gate ${k}: ${v} is not a number`);
  }
  return gates;
}

/**
 * @param {any[]} gates ml_promote's `gates`
 * @returns {HTMLTableElement}
 */
function gateTable(gates) {
  return table(
    ["gate", "metric", "actual", "threshold", "passed", "source", "reason"],
    gates.map((g) =>
      h("tr", { class: g.passed ? "pass" : "fail", dataset: { gate: g.gate } }, h("td", {}, g.gate), h("td", {}, g.metric || "—"), h("td", { class: "actual" }, fmt(g.actual, 4)), h("td", { class: "threshold" }, fmt(g.threshold, 4)), h("td", {}, g.passed ? "yes" : "NO"), h("td", {}, g.source), h("td", {}, g.reason)),
    ),
    { class: "gates" },
  );
}

/**
 * @param {import("./mcp.js").Caller} mcp
 * @param {HTMLElement} root
 * @returns {() => void}
 */
export function modelsPage(mcp, root) {
  const list = h("div", { id: "models-list" }, "loading…");
  const detail = h("div", { id: "model-detail" });
  const result = h("div", { id: "lifecycle-result", "aria-live": "polite" });
  const model = h("select", { id: "promote-model" });
  const version = h("input", { id: "promote-version", type: "number", min: 1, value: 1, size: 4 });
  const to = h("select", { id: "promote-to" }, h("option", { value: "production" }, "production"), h("option", { value: "staging" }, "staging"));
  const gates = h("input", { id: "promote-gates", type: "text", size: 36, placeholder: "extra gates, e.g. min_r2=0.4, max_mae=50" });
  const force = h("input", { id: "promote-force", type: "checkbox", disabled: !can(SCOPE.admin) });

  /**
   * @param {string} ref name@version
   * @returns {Promise<any>} the version's ml_model_info, or null when it failed (shown)
   */
  async function showInfo(ref) {
    clear(detail, h("p", { class: "muted" }, `loading ${ref}…`));
    try {
      const info = await mcp.call("ml_model_info", { model: ref });
      const forced = forcedOf(info);
      clear(
        detail,
        h("h3", {}, `${info.model.ref} `, forced ? h("span", { class: "badge bad" }, forced) : null),
        h("p", {}, info.description || ""),
        h("p", {}, "digest ", short(info.model.sha256, 16), ` · flavor ${info.flavor} · interfaces ${info.interfaces.join(", ")} · stage ${info.stage || "—"}`),
        h("p", {}, "metrics: ", metricsText(info.metrics) || "none"),
        table(["feature", "type", "min", "max"], info.features.map((/** @type {any} */ f) => h("tr", {}, h("td", {}, f.name), h("td", {}, f.type), h("td", {}, fmt(f.min, 3)), h("td", {}, fmt(f.max, 3))))),
        h("h4", {}, "Stage history"),
        table(["stage", "at", "by", "note"], (info.stage_history || []).map((/** @type {any} */ e) => h("tr", { class: /forced/.test(e.note) ? "forced" : "" }, h("td", {}, e.stage), h("td", {}, e.at), h("td", {}, e.by || "—"), h("td", {}, e.note)))),
      );
      return info;
    } catch (e) {
      clear(detail, h("p", { class: "error" }, errorText(e)));
      return null;
    }
  }

  /** @param {string} name */
  async function compare(name) {
    try {
      const r = await mcp.call("ml_compare", { model: name });
      /** @type {string[]} */
      const versions = r.versions.map((/** @type {{ version: number }} */ v) => String(v.version));
      clear(
        result,
        h("h3", {}, `Compare ${name} (deltas against v${r.baseline})`),
        table(
          ["metric", ...versions.map((v) => `v${v}`), "best"],
          Object.entries(/** @type {Record<string, Record<string, number>>} */ (r.metrics)).map(([metric, byVersion]) =>
            h("tr", {}, h("td", {}, `${metric} ${r.better[metric] ? `(${r.better[metric]} is better)` : ""}`), versions.map((v) => h("td", {}, fmt(byVersion[v], 4), r.deltas[metric]?.[v] ? h("small", {}, ` (${r.deltas[metric][v] > 0 ? "+" : ""}${fmt(r.deltas[metric][v], 4)})`) : null)), h("td", {}, r.best[metric] ? `v${r.best[metric]}` : "—")),
          ),
          { id: "compare-table" },
        ),
      );
    } catch (e) {
      notice(errorText(e), "error");
    }
  }

  async function promote() {
    let extra;
    try {
      extra = gates.value.trim() ? parseGates(gates.value) : undefined;
    } catch (e) {
      notice(errorText(e), "error");
      return;
    }
    const args = { model: model.value, version: Number(version.value), to: to.value, gates: extra, force: force.checked || undefined };
    clear(result, h("p", { class: "muted" }, "promoting…"));
    try {
      const r = await mcp.call("ml_promote", args);
      clear(
        result,
        h("h3", { id: "promote-outcome", class: r.promoted ? "good" : "bad" }, r.promoted ? `Promoted ${r.model.ref} to ${r.to}` : `Blocked: ${r.model.ref} stays where it was`, r.forced ? h("span", { class: "badge bad" }, " forced") : null),
        h("p", {}, r.message),
        r.gates.length ? gateTable(r.gates) : h("p", { class: "muted" }, "no gates applied"),
        r.skipped_gates.length ? h("p", { class: "bad" }, `skipped by force (recorded): ${r.skipped_gates.join(", ")}`) : null,
      );
      load();
    } catch (e) {
      clear(result, h("p", { class: "error", id: "promote-error" }, errorText(e)));
    }
  }

  async function rollback() {
    try {
      const r = await mcp.call("ml_rollback", { model: model.value, version: Number(version.value) || undefined });
      clear(result, h("h3", { class: "good" }, `Production of ${model.value} is v${r.production}`), h("p", {}, r.message));
      load();
    } catch (e) {
      clear(result, h("p", { class: "error" }, errorText(e)));
    }
  }

  /**
   * A forced promotion is recorded on its version (ml_model_info): marked in the listing.
   * @param {HTMLTableRowElement[]} rows
   */
  async function markForced(rows) {
    for (const tr of rows) {
      const info = await mcp.call("ml_model_info", { model: `${tr.dataset.model}@${tr.dataset.version}` }).catch(() => null);
      const forced = info && forcedOf(info);
      if (forced) tr.querySelector(".stage")?.append(" ", h("span", { class: "badge bad forced" }, forced));
    }
  }

  async function load() {
    try {
      /** @type {{ models: { name: string, versions: any[] }[] }} */
      const { models } = await mcp.call("ml_list_models");
      const keep = model.value;
      clear(model, models.map((m) => h("option", { value: m.name }, m.name)));
      if (keep) model.value = keep;
      const rows = models.flatMap((m) =>
        m.versions.map((v) =>
          h(
            "tr",
            { dataset: { model: m.name, version: v.version } },
            h("td", {}, m.name),
            h("td", {}, h("a", { href: "#models", onclick: (/** @type {Event} */ e) => (e.preventDefault(), showInfo(`${m.name}@${v.version}`)) }, `v${v.version}`)),
            h("td", { class: "stage" }, v.stage || "—"),
            h("td", {}, v.aliases.join(", ") || "—"),
            h("td", {}, v.interfaces.join(", ")),
            h("td", {}, metricsText(v.metrics)),
            h("td", {}, h("button", { type: "button", onclick: () => compare(m.name) }, "Compare")),
          ),
        ),
      );
      clear(list, table(["model", "version", "stage", "aliases", "interfaces", "metrics", ""], rows, { id: "models-table" }));
      markForced(rows.slice(0, 40));
    } catch (e) {
      clear(list, h("p", { class: "error" }, errorText(e)));
    }
  }

  clear(
    root,
    h("h2", {}, "Models"),
    list,
    h("h3", {}, "Promote or roll back"),
    h(
      "form",
      { class: "row", id: "promote-form", onsubmit: (/** @type {Event} */ e) => e.preventDefault() },
      h("label", {}, "model ", model),
      h("label", {}, "version ", version),
      h("label", {}, "to ", to),
      h("label", {}, "gates ", gates),
      h("label", { title: can(SCOPE.admin) ? "" : `needs ${SCOPE.admin}` }, force, " force past failing gates", can(SCOPE.admin) ? null : h("small", { class: "needs" }, ` needs ${SCOPE.admin}`)),
      action("Promote", SCOPE.manage, promote, { id: "promote" }),
      action("Roll back to this version", SCOPE.manage, rollback, { id: "rollback" }),
    ),
    result,
    detail,
  );
  load();
  return () => {};
}
