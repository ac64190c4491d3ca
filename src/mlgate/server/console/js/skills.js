// @ts-check
// Skills: specs with digest and lock state (ml_list_skills), a run form generated from each skill's
// input schema, and recent runs (the caller's skill jobs, plus this tab's runs).

import { follow, jobsTable } from "./jobs.js";
import { action, clear, errorText, fmt, h, notice, short, table } from "./ui.js";
import { SCOPE } from "./config.js";

/**
 * A generated form: its fields, and `read()` for the inputs they hold (throws naming a bad field).
 * @typedef {{ elements: HTMLElement[], read(): Record<string, unknown> }} SchemaForm
 */

/**
 * One form field per property of a JSON Schema object; `read()` turns the fields back into inputs.
 * @param {{ properties?: Record<string, any>, required?: string[] }} schema
 * @param {Record<string, any>} [example] values to start from
 * @returns {SchemaForm}
 */
export function schemaForm(schema, example = {}) {
  /** @type {{ name?: string, read?: () => unknown, el?: HTMLElement }[]} */
  const fields = [];
  /** @type {Record<string, any>} */
  const props = schema.properties || {};
  const required = new Set(schema.required || []);
  for (const [name, prop] of Object.entries(props)) {
    const value = example[name] ?? prop.default;
    const items = prop.items?.type;
    /** @type {HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement} */
    let input;
    /** @type {() => unknown} */
    let read;
    if (prop.type === "array" && (items === "number" || items === "integer")) {
      input = h("textarea", { rows: 2, cols: 60 }, (value || []).join(", "));
      read = () => input.value.split(/[,\s]+/).filter(Boolean).map(Number);
    } else if (prop.type === "array" && items === "string") {
      input = h("textarea", { rows: 3, cols: 60 }, (value || []).join("\n"));
      read = () => input.value.split("\n").map((s) => s.trim()).filter(Boolean);
    } else if (prop.type === "number" || prop.type === "integer") {
      input = h("input", { type: "number", step: "any", value: value ?? "" });
      read = () => (input.value === "" ? undefined : Number(input.value));
    } else if (prop.type === "boolean") {
      const box = h("input", { type: "checkbox", checked: Boolean(value) });
      input = box;
      read = () => box.checked;
    } else if (prop.type === "string" && !prop.enum) {
      input = h("input", { type: "text", size: 50, value: value ?? "" });
      read = () => input.value || undefined;
    } else if (prop.enum) {
      input = h("select", {}, prop.enum.map((/** @type {string} */ v) => h("option", { value: v, selected: v === value }, v)));
      read = () => input.value;
    } else {
      input = h("textarea", { rows: 4, cols: 60, class: "json" }, value === undefined ? "" : JSON.stringify(value));
      read = () => (input.value.trim() ? JSON.parse(input.value) : undefined);
    }
    input.name = name;
    input.id = `input-${name}`;
    fields.push({ name, read });
    const label = `${name}${required.has(name) ? " *" : ""}`;
    fields.push({ el: h("div", { class: "field" }, h("label", { for: input.id }, label), input, prop.description ? h("small", {}, prop.description) : null) });
  }
  return {
    elements: fields.flatMap((f) => (f.el ? [f.el] : [])),
    read() {
      /** @type {Record<string, unknown>} */
      const out = {};
      for (const { name, read } of fields) {
        if (!name || !read) continue;
        let v;
        try {
          v = read();
        } catch (e) {
          throw new Error(`${name}: ${errorText(e)}`);
        }
        if (v !== undefined) out[name] = v;
      }
      return out;
    },
  };
}

/**
 * @param {import("./mcp.js").Caller} mcp
 * @param {HTMLElement} root
 * @returns {() => void}
 */
export function skillsPage(mcp, root) {
  const list = h("div", { id: "skills-list" }, "loading…");
  const formBox = h("div", { id: "skill-form" });
  const result = h("div", { id: "skill-result", "aria-live": "polite" });
  const recent = h("div", { id: "skill-runs" });
  /** @type {any[]} this tab's runs (ml_run_skill results), newest first */
  const mine = [];

  /** @param {any} r an ml_run_skill result */
  function showResult(r) {
    clear(
      result,
      h("h3", { id: "skill-outcome", class: r.status === "ok" ? "good" : "bad" }, `${r.skill}: ${r.status}`),
      h("p", {}, "run ", h("code", { id: "run-id" }, r.run_id), " · spec ", short(r.digest)),
      table(["step", "call", "outcome", "model", "ms", "error"], r.steps.map((/** @type {any} */ s) => h("tr", {}, h("td", {}, s.id), h("td", {}, s.call), h("td", {}, s.outcome), h("td", {}, s.model?.ref || "—"), h("td", {}, fmt(s.duration_ms, 1)), h("td", {}, s.error || "")))),
      h("h4", {}, "Outputs"),
      h("pre", { id: "skill-outputs" }, JSON.stringify(r.outputs, null, 2)),
    );
  }

  /**
   * @param {string} skill name@version
   * @param {SchemaForm} form
   */
  async function run(skill, form) {
    let inputs;
    try {
      inputs = form.read();
    } catch (e) {
      notice(errorText(e), "error");
      return;
    }
    clear(result, h("p", { class: "muted" }, `running ${skill}…`));
    try {
      const r = await follow(mcp, await mcp.call("ml_run_skill", { skill, inputs }), result);
      showResult(r);
      mine.unshift(r);
      loadRuns();
    } catch (e) {
      clear(result, h("p", { class: "error", id: "skill-error" }, errorText(e)));
    }
  }

  /** @param {any} s one of ml_list_skills's `skills` */
  function openForm(s) {
    const ref = `${s.name}@${s.version}`;
    const form = schemaForm(s.inputs, s.example || {});
    clear(
      formBox,
      h("h3", {}, `Run ${ref}`),
      h("p", {}, s.description),
      h("form", { id: "run-form", onsubmit: (/** @type {Event} */ e) => e.preventDefault() }, form.elements, action(`Run ${ref}`, SCOPE.infer, () => run(ref, form), { id: "run-skill", disabled: !s.runnable || undefined })),
      s.runnable ? null : h("p", { class: "bad" }, `not runnable: ${s.error || "not locked"}`),
    );
  }

  async function loadRuns() {
    /** @type {any[]} */
    const jobs = await mcp.call("ml_list_jobs", { limit: 50 }).then((r) => r.jobs.filter((/** @type {{ tool: string }} */ j) => j.tool === "ml_run_skill")).catch(() => []);
    clear(
      recent,
      mine.length ? table(["run", "skill", "status", "steps"], mine.map((r) => h("tr", {}, h("td", {}, h("code", {}, r.run_id.slice(0, 8))), h("td", {}, r.skill), h("td", {}, r.status), h("td", {}, r.steps.length)))) : null,
      jobs.length ? jobsTable(jobs) : null,
      !mine.length && !jobs.length ? h("p", { class: "muted" }, "no runs yet") : null,
    );
  }

  async function load() {
    try {
      /** @type {{ skills: any[] }} */
      const { skills } = await mcp.call("ml_list_skills");
      clear(
        list,
        table(
          ["skill", "digest", "locked", "runnable", "steps", "description", ""],
          skills.map((s) =>
            h(
              "tr",
              { dataset: { skill: `${s.name}@${s.version}` } },
              h("td", {}, `${s.name}@${s.version}`),
              h("td", {}, short(s.digest)),
              h("td", { class: s.locked ? "good" : "bad" }, s.locked ? "locked" : `NOT LOCKED${s.locked_digest ? " (lock differs)" : ""}`),
              h("td", {}, s.runnable ? "yes" : "no"),
              h("td", {}, s.steps.map((/** @type {{ id: string, models: string[] }} */ st) => `${st.id} → ${st.models.join(" | ")}`).join("; ")),
              h("td", {}, s.description),
              h("td", {}, h("button", { type: "button", class: "open-form", onclick: () => openForm(s) }, "Open form")),
            ),
          ),
          { id: "skills-table" },
        ),
      );
    } catch (e) {
      clear(list, h("p", { class: "error" }, errorText(e)));
    }
  }

  clear(root, h("h2", {}, "Skills"), list, formBox, result, h("h3", {}, "Recent runs"), recent);
  load();
  loadRuns();
  return () => {};
}
