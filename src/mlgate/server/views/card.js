// @ts-check
// ml_model_info as a model card: interfaces, typed features with their training ranges, metrics,
// lineage, aliases and stage history, and whether (and by whom) code in the artifact was admitted.

import { clear, errorText, fmt, h, table } from "../console/js/ui.js";
import { connect, payload } from "./bridge.js";
import { stamp } from "./stamp.js";

const root = /** @type {HTMLElement} */ (document.getElementById("view"));

/**
 * @param {string} title
 * @param {...import("../console/js/ui.js").Child} body
 * @returns {HTMLElement}
 */
function section(title, ...body) {
  return h("section", { class: "card-part", dataset: { part: title.toLowerCase().replace(/\W+/g, "-") } }, h("h3", {}, title), ...body);
}

/**
 * A name → value table, or "none recorded".
 * @param {Record<string, unknown> | null | undefined} obj
 * @param {string} id
 * @returns {HTMLElement}
 */
function dict(obj, id) {
  const entries = Object.entries(obj || {});
  if (!entries.length) return h("p", { class: "muted" }, "none recorded");
  return table(["name", "value"], entries.map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, typeof v === "number" ? fmt(v, 4) : String(v)))), { id });
}

/** @param {import("./bridge.js").ToolResult} result ml_model_info's */
function render(result) {
  /** @type {any} */
  let m;
  try {
    m = payload(result);
  } catch (e) {
    clear(root, h("p", { class: "error", role: "alert" }, errorText(e)));
    return;
  }
  const features = m.features || [];
  clear(
    root,
    h("h2", {}, `${m.model.name} `, h("small", { class: "muted" }, `version ${m.model.version}`), m.stage ? h("span", { class: "badge stage" }, m.stage) : null),
    m.description ? h("p", { class: "description" }, m.description) : null,
    stamp(m.model),
    section("Interfaces", h("p", { id: "interfaces" }, m.interfaces.map((/** @type {string} */ i) => h("span", { class: "badge" }, i)), " ", h("span", { class: "muted" }, `flavor ${m.flavor}`))),
    section(
      "Features",
      features.length
        ? table(
            ["name", "type", "min", "max", "mean", "std"],
            features.map((/** @type {any} */ f) => h("tr", { dataset: { feature: f.name } }, h("th", { scope: "row" }, f.name), h("td", {}, f.type), [f.min, f.max, f.mean, f.std].map((v) => h("td", {}, fmt(v, 3))))),
            { id: "features" },
          )
        : h("p", { class: "muted" }, "this interface takes no feature table"),
    ),
    section("Metrics", dict(m.metrics, "metrics")),
    section("Lineage", dict(m.lineage, "lineage")),
    section(
      "Aliases and stages",
      h("p", { id: "aliases" }, m.aliases.length ? m.aliases.map((/** @type {string} */ a) => h("span", { class: "badge alias" }, `@${a}`)) : h("span", { class: "muted" }, "no aliases")),
      (m.stage_history || []).length
        ? table(["at", "stage", "from", "by", "note"], m.stage_history.map((/** @type {any} */ e) => h("tr", {}, h("td", {}, e.at), h("td", {}, e.stage), h("td", {}, e.previous || "—"), h("td", {}, e.by || "registration"), h("td", {}, e.note))), { id: "stage-history" })
        : h("p", { class: "muted" }, "no stage changes"),
    ),
    section(
      "Admission",
      h(
        "p",
        { id: "admission" },
        m.runs_code?.length
          ? [`runs code when loaded: ${m.runs_code.join(", ")}; `, m.admitted_by ? h("span", { class: "good" }, `admitted by ${m.admitted_by}`) : h("span", { class: "bad" }, "not admitted")]
          : h("span", { class: "good" }, "nothing in the artifact runs code when loaded"),
      ),
    ),
    m.example ? section("Example call", h("pre", { id: "example" }, JSON.stringify(m.example, null, 2))) : null,
  );
}

connect("mlgate-model-card", { onResult: render });
