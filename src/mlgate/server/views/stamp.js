// @ts-check
// The model stamp under a view: exactly which version ran (name, version, the digest verified at load).

import { h } from "../console/js/ui.js";

/**
 * @param {{ name: string, version: number | string, ref: string, sha256?: string | null } | null | undefined} model a result's model stamp
 * @returns {HTMLElement}
 */
export function stamp(model) {
  if (!model) return h("p", { class: "stamp muted" }, "no model stamp");
  return h(
    "p",
    { class: "stamp", id: "stamp" },
    h("strong", { class: "name" }, model.name),
    " version ",
    h("span", { class: "version" }, String(model.version)),
    " (asked as ",
    h("code", { class: "ref" }, model.ref),
    ") · sha256 ",
    h("code", { class: "digest", id: "digest" }, model.sha256 || "none"),
  );
}
