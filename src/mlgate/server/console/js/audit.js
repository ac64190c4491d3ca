// @ts-check
// Audit: the ledger newest first (ml_audit), filtered by subject, tool, model and outcome.

import { action, can, clear, errorText, fmt, h, table } from "./ui.js";
import { SCOPE } from "./config.js";

/**
 * @param {import("./mcp.js").Caller} mcp
 * @param {HTMLElement} root
 * @returns {() => void}
 */
export function auditPage(mcp, root) {
  const subject = h("input", { id: "audit-subject", type: "text", size: 14, placeholder: "subject" });
  const tool = h("input", { id: "audit-tool", type: "text", size: 16, placeholder: "tool, e.g. ml_predict" });
  const model = h("input", { id: "audit-model", type: "text", size: 20, placeholder: "model name or ref" });
  const outcome = h("select", { id: "audit-outcome" }, h("option", { value: "" }, "any outcome"), h("option", { value: "ok" }, "ok"), h("option", { value: "error" }, "error"), h("option", { value: "refused" }, "refused"));
  const limit = h("input", { id: "audit-limit", type: "number", min: 1, max: 500, value: 100, size: 4 });
  const rows = h("div", { id: "audit-rows" });

  async function load() {
    /** @type {Record<string, string | number>} */
    const args = { limit: Number(limit.value) || 100 };
    for (const [k, el] of Object.entries({ subject, tool, model, outcome })) if (el.value.trim()) args[k] = el.value.trim();
    clear(rows, h("p", { class: "muted" }, "loading…"));
    try {
      const r = await mcp.call("ml_audit", args);
      clear(
        rows,
        h("p", { class: "muted" }, `${r.rows.length} rows, newest first`),
        table(
          ["at", "subject", "client", "tool", "model", "version", "ms", "outcome", "error"],
          r.rows.map((/** @type {any} */ x) =>
            h("tr", { class: x.outcome === "ok" ? "" : "fail" }, h("td", {}, x.at), h("td", { class: "subject" }, x.subject), h("td", {}, x.client || "—"), h("td", { class: "tool" }, x.tool), h("td", { class: "model" }, x.model_ref || "—"), h("td", {}, x.version ?? "—"), h("td", {}, fmt(x.duration_ms, 1)), h("td", { class: "outcome" }, x.outcome), h("td", { class: "error-text" }, x.error_class && !(x.error_message || "").startsWith(x.error_class) ? `${x.error_class}: ${x.error_message || ""}` : x.error_message || "")),
          ),
          { id: "audit-table" },
        ),
      );
    } catch (e) {
      clear(rows, h("p", { class: "error" }, errorText(e)));
    }
  }

  clear(
    root,
    h("h2", {}, "Audit ledger"),
    h("form", { class: "row", id: "audit-form", onsubmit: (/** @type {Event} */ e) => (e.preventDefault(), load()) }, subject, tool, model, outcome, h("label", {}, "rows ", limit), action("Apply filters", SCOPE.audit, load, { id: "audit-apply" })),
    rows,
  );
  if (can(SCOPE.audit)) load();
  else clear(rows, h("p", { class: "muted" }, `Reading the ledger needs the scope ${SCOPE.audit} (or ${SCOPE.admin}).`));
  return () => {};
}
