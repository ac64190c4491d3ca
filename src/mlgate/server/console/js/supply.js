// @ts-check
// Pull and compile: ml_pull / ml_compile forms, their jobs' progress (ml_job), the resulting files and digests.
// A pull comes from the Hugging Face Hub (org/repo at a revision) or TorchHub (owner/repo, an entrypoint and
// the model's input names, at a commit: ml_pull with a torchhub: ref; it serves once an operator admits it).

import { follow, jobsTable } from "./jobs.js";
import { action, bytes, clear, errorText, h, notice, short, table } from "./ui.js";
import { SCOPE } from "./config.js";

/**
 * @param {import("./mcp.js").Caller} mcp
 * @param {HTMLElement} root
 * @returns {() => void}
 */
export function supplyPage(mcp, root) {
  const patterns = h("input", { id: "pull-patterns", type: "text", size: 24, placeholder: "*.onnx, config.json (default: all)" });
  const source = h("select", { id: "pull-source" }, h("option", { value: "hf" }, "Hugging Face Hub"), h("option", { value: "torchhub" }, "TorchHub"));
  const repo = h("input", { id: "pull-repo", type: "text", size: 30, placeholder: "org/repo" });
  const entry = h("input", { id: "pull-entry", type: "text", size: 16, placeholder: "hubconf entrypoint" });
  const features = h("input", { id: "pull-features", type: "text", size: 24, placeholder: "input names: a, b, c" });
  const hubOnly = [h("label", { class: "torchhub-only" }, "entrypoint ", entry), h("label", { class: "torchhub-only" }, "features ", features)];
  const hfOnly = [h("label", { class: "hf-only" }, "files ", patterns)];
  function showSource() {
    const th = source.value === "torchhub";
    for (const el of hubOnly) el.hidden = !th;
    for (const el of hfOnly) el.hidden = th;
    revision.placeholder = th ? "40-hex commit" : "40-hex commit or tag";
  }
  source.addEventListener("change", showSource);
  const revision = h("input", { id: "pull-revision", type: "text", size: 42, placeholder: "40-hex commit or tag" });
  const registerAs = h("input", { id: "pull-register", type: "text", size: 20, placeholder: "optional model name" });
  const pullBox = h("div", { id: "pull-result", "aria-live": "polite" });
  const cmodel = h("input", { id: "compile-model", type: "text", size: 28, placeholder: "name@version" });
  const target = h("select", { id: "compile-target" }, ["onnx", "int8", "fp16", "torchscript", "safetensors", "tensorrt"].map((t) => h("option", { value: t }, t)));
  const compileBox = h("div", { id: "compile-result", "aria-live": "polite" });
  const jobsBox = h("div", { id: "supply-jobs" });

  async function pull() {
    /** @param {HTMLInputElement} input */
    const list = (input) => input.value.split(",").map((s) => s.trim()).filter(Boolean);
    const th = source.value === "torchhub";
    /** @type {{ repo_id: string, revision: string, features?: string[], patterns?: string[], register_as?: string }} */
    const args = { repo_id: th ? `torchhub:${repo.value.trim()}:${entry.value.trim()}` : repo.value.trim(), revision: revision.value.trim() };
    if (th) args.features = list(features);
    else if (list(patterns).length) args.patterns = list(patterns);
    if (registerAs.value.trim()) args.register_as = registerAs.value.trim();
    clear(pullBox, h("p", { class: "muted" }, `pulling ${args.repo_id}@${args.revision}…`));
    try {
      const r = await follow(mcp, await mcp.call("ml_pull", args), pullBox);
      clear(
        pullBox,
        h("h3", { id: "pull-done", class: "good" }, `Pulled ${r.repo_id} at ${r.commit}`),
        h("p", {}, `serve as ${r.registered && r.admission ? r.registered : r.ref}`, r.registered ? ` · registered as ${r.registered}` : "", " · manifest ", short(r.manifest_sha256, 16)),
        r.admission ? h("p", { id: "pull-admission", class: /serves now/.test(r.admission) ? "good" : "bad" }, r.admission) : null,
        table(["file", "size", "sha256"], r.files.map((/** @type {{ path: string, size: number, sha256: string }} */ f) => h("tr", { dataset: { path: f.path } }, h("td", {}, f.path), h("td", {}, bytes(f.size)), h("td", { class: "sha256" }, h("code", {}, f.sha256)))), { id: "pull-files" }),
      );
    } catch (e) {
      clear(pullBox, h("p", { class: "error", id: "pull-error" }, errorText(e)));
    }
    loadJobs();
  }

  async function compile() {
    clear(compileBox, h("p", { class: "muted" }, `compiling ${cmodel.value} to ${target.value}…`));
    try {
      const r = await follow(mcp, await mcp.call("ml_compile", { model: cmodel.value.trim(), target: target.value }), compileBox);
      const a = r.artifact || {};
      clear(
        compileBox,
        h("h3", { id: "compile-done", class: "good" }, `Compiled to ${a.format}: registered ${r.registered}`),
        h("p", {}, "sha256 ", h("code", { class: "sha256" }, a.sha256), ` · ${bytes(a.size)}`),
        h("pre", {}, JSON.stringify(r.parity, null, 2)),
      );
    } catch (e) {
      clear(compileBox, h("p", { class: "error", id: "compile-error" }, errorText(e)));
    }
    loadJobs();
  }

  async function loadJobs() {
    try {
      const { jobs } = await mcp.call("ml_list_jobs", { limit: 20 });
      const mine = jobs.filter((/** @type {{ tool: string }} */ j) => j.tool === "ml_pull" || j.tool === "ml_compile");
      clear(jobsBox, mine.length ? jobsTable(mine) : h("p", { class: "muted" }, "no pull or compile jobs yet"));
    } catch (e) {
      notice(errorText(e), "error");
    }
  }

  clear(
    root,
    h("h2", {}, "Pull and compile"),
    h("h3", {}, "Pull from the Hugging Face Hub or TorchHub"),
    h("form", { class: "row", id: "pull-form", onsubmit: (/** @type {Event} */ e) => e.preventDefault() }, h("label", {}, "source ", source), h("label", {}, "repository ", repo), hubOnly[0], h("label", {}, "revision ", revision), hfOnly, hubOnly[1], h("label", {}, "register as ", registerAs), action("Pull", SCOPE.manage, pull, { id: "pull" })),
    pullBox,
    h("h3", {}, "Compile a version"),
    h("form", { class: "row", id: "compile-form", onsubmit: (/** @type {Event} */ e) => e.preventDefault() }, h("label", {}, "model ", cmodel), h("label", {}, "target ", target), action("Compile", SCOPE.manage, compile, { id: "compile" })),
    compileBox,
    h("h3", {}, "Recent jobs"),
    jobsBox,
  );
  showSource();
  loadJobs();
  return () => {};
}
