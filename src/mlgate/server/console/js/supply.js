// Pull and compile: ml_pull / ml_compile forms, their jobs' progress (ml_job), the resulting files and digests.

import { follow, jobsTable } from "./jobs.js";
import { action, bytes, clear, h, notice, short, table } from "./ui.js";

export function supplyPage(mcp, root) {
  const repo = h("input", { id: "pull-repo", type: "text", size: 30, placeholder: "org/repo" });
  const revision = h("input", { id: "pull-revision", type: "text", size: 42, placeholder: "40-hex commit or tag" });
  const patterns = h("input", { id: "pull-patterns", type: "text", size: 24, placeholder: "*.onnx, config.json (default: all)" });
  const registerAs = h("input", { id: "pull-register", type: "text", size: 20, placeholder: "optional model name" });
  const pullBox = h("div", { id: "pull-result", "aria-live": "polite" });
  const cmodel = h("input", { id: "compile-model", type: "text", size: 28, placeholder: "name@version" });
  const target = h("select", { id: "compile-target" }, ["onnx", "int8", "fp16", "torchscript", "safetensors", "tensorrt"].map((t) => h("option", { value: t }, t)));
  const compileBox = h("div", { id: "compile-result", "aria-live": "polite" });
  const jobsBox = h("div", { id: "supply-jobs" });

  async function pull() {
    const args = { repo_id: repo.value.trim(), revision: revision.value.trim() };
    const globs = patterns.value.split(",").map((s) => s.trim()).filter(Boolean);
    if (globs.length) args.patterns = globs;
    if (registerAs.value.trim()) args.register_as = registerAs.value.trim();
    clear(pullBox, h("p", { class: "muted" }, `pulling ${args.repo_id}@${args.revision}…`));
    try {
      const r = await follow(mcp, await mcp.call("ml_pull", args), pullBox);
      clear(
        pullBox,
        h("h3", { id: "pull-done", class: "good" }, `Pulled ${r.repo_id} at ${r.commit}`),
        h("p", {}, `serve as ${r.ref}`, r.registered ? ` · registered as ${r.registered}` : "", " · manifest ", short(r.manifest_sha256, 16)),
        table(["file", "size", "sha256"], r.files.map((f) => h("tr", { dataset: { path: f.path } }, h("td", {}, f.path), h("td", {}, bytes(f.size)), h("td", { class: "sha256" }, h("code", {}, f.sha256)))), { id: "pull-files" }),
      );
    } catch (e) {
      clear(pullBox, h("p", { class: "error", id: "pull-error" }, e.message));
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
      clear(compileBox, h("p", { class: "error", id: "compile-error" }, e.message));
    }
    loadJobs();
  }

  async function loadJobs() {
    try {
      const { jobs } = await mcp.call("ml_list_jobs", { limit: 20 });
      const mine = jobs.filter((j) => j.tool === "ml_pull" || j.tool === "ml_compile");
      clear(jobsBox, mine.length ? jobsTable(mine) : h("p", { class: "muted" }, "no pull or compile jobs yet"));
    } catch (e) {
      notice(e.message, "error");
    }
  }

  clear(
    root,
    h("h2", {}, "Pull and compile"),
    h("h3", {}, "Pull from the Hub"),
    h("form", { class: "row", id: "pull-form", onsubmit: (e) => e.preventDefault() }, h("label", {}, "repository ", repo), h("label", {}, "revision ", revision), h("label", {}, "files ", patterns), h("label", {}, "register as ", registerAs), action("Pull", "ml:manage", pull, { id: "pull" })),
    pullBox,
    h("h3", {}, "Compile a version"),
    h("form", { class: "row", id: "compile-form", onsubmit: (e) => e.preventDefault() }, h("label", {}, "model ", cmodel), h("label", {}, "target ", target), action("Compile", "ml:manage", compile, { id: "compile" })),
    compileBox,
    h("h3", {}, "Recent jobs"),
    jobsBox,
  );
  loadJobs();
  return () => {};
}
