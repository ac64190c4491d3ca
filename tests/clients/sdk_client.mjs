// The official MCP TypeScript SDK client against `mlgate serve` over stdio: list the tools, then call every
// one with a valid example. The SDK validates each result's structuredContent against the tool's
// outputSchema (Ajv) and throws on a mismatch, so a passing call is an end-to-end check of the output
// contract. Driven by tests/clients/test_typescript_sdk.py; prints one JSON report on stdout.
//
//   node sdk_client.mjs CONFIG_JSON
//   CONFIG_JSON: {"node_modules": DIR, "command": EXE, "args": [...], "env": {...},
//                 "model": NAME, "rows": [record], "train": [record with "y"]}
//
// The demo models are only read and run (other tests rely on demo-*@production = version 1). Everything
// that changes state acts on `model`, a throwaway Ridge registered by the test with 'production' on
// version 1: drift, compile (-> version 2), compare, promote, rollback, retrain, halt then resume.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const sdk = (path) => import(pathToFileURL(join(config.node_modules, "@modelcontextprotocol/sdk/dist/esm", path)).href);
const { Client } = await sdk("client/index.js");
const { StdioClientTransport } = await sdk("client/stdio.js");

const INTERFACE_TOOL = {
  predictor: "ml_predict", classifier: "ml_classify", forecaster: "ml_forecast", segmenter: "ml_segment",
  analyzer: "ml_analyze",
};
const DEMO = ["demo-regressor@1", "demo-classifier@production", "demo-forecaster@1", "demo-segmenter@1",
  "demo-sentiment@1"];
const M = config.model;
const SKIPPED = {
  // none: every tool is called. A tool that cannot be called here goes in this map with its reason.
};

const report = { server: null, listed: [], withoutOutputSchema: [], calls: [], skipped: SKIPPED, failures: [] };
const client = new Client({ name: "mlgate-tests-ts-sdk", version: "1.0.0" });
const transport = new StdioClientTransport({ command: config.command, args: config.args, env: config.env,
  stderr: "pipe" });
let serverLog = "";
transport.stderr?.on("data", (chunk) => { serverLog = (serverLog + chunk).slice(-4000); });

// Call a tool; the SDK validates structuredContent against outputSchema and throws on a mismatch.
async function call(tool, args, { expectError = false } = {}) {
  const entry = { tool, args: Object.keys(args) };
  report.calls.push(entry);
  try {
    const result = await client.callTool({ name: tool, arguments: args });
    entry.isError = Boolean(result.isError);
    entry.structured = result.structuredContent !== undefined;
    if (entry.isError !== expectError) {
      const text = (result.content ?? []).map((c) => c.text ?? "").join(" ");
      report.failures.push(`${tool}: isError=${entry.isError}, expected ${expectError}: ${text.slice(0, 500)}`);
    } else if (!expectError && !entry.structured) {
      report.failures.push(`${tool}: no structuredContent`);
    }
    return result.structuredContent ?? {};
  } catch (err) {
    entry.thrown = String(err?.message ?? err);
    report.failures.push(`${tool}: ${entry.thrown}`);
    return {};
  }
}

try {
  await client.connect(transport);
  report.server = client.getServerVersion() ?? null;
  const { tools } = await client.listTools(); // also caches each tool's outputSchema validator
  report.listed = tools.map((t) => t.name);
  report.withoutOutputSchema = tools.filter((t) => !t.outputSchema).map((t) => t.name);

  // read-only and inference tools, with the examples the server itself advertises
  await call("ml_list_models", {});
  for (const ref of DEMO) {
    const info = await call("ml_model_info", { model: ref });
    const tool = INTERFACE_TOOL[info.interfaces?.[0]];
    if (tool && info.example) await call(tool, info.example);
    else report.failures.push(`ml_model_info ${ref}: no interface tool or example in ${JSON.stringify(info).slice(0, 300)}`);
  }
  await call("ml_serving_status", {});
  const { skills = [] } = await call("ml_list_skills", {});
  for (const skill of skills.filter((s) => s.runnable)) {
    await call("ml_run_skill", { skill: `${skill.name}@${skill.version}`, inputs: skill.example });
  }
  if (!skills.some((s) => s.runnable)) report.failures.push("ml_list_skills: no runnable skill to run");

  // lifecycle, on the throwaway model only
  await call("ml_drift", { model: `${M}@production`, current: config.rows });
  const compiled = await call("ml_compile", { model: `${M}@1`, target: "onnx" });
  const v2 = Number(String(compiled.registered ?? "").split("@")[1]);
  if (!(v2 > 1)) report.failures.push(`ml_compile registered no new version: ${JSON.stringify(compiled).slice(0, 300)}`);
  await call("ml_compare", { model: M, versions: [1, v2] });
  const promoted = await call("ml_promote", { model: M, version: v2, to: "production" });
  if (promoted.promoted !== true) report.failures.push(`ml_promote did not promote: ${JSON.stringify(promoted)}`);
  await call("ml_rollback", { model: M, version: 1 });
  await call("ml_retrain", { model: `${M}@production`, data: config.train, target: "y", promote_if_better: false });
  try {
    await call("ml_halt", { model: M, reason: "TypeScript SDK client test: halt then resume" });
  } finally {
    await call("ml_resume", { model: M });
  }
  // the compile and the retrain ran as jobs: list them, read one, cancel one that has finished (a no-op)
  const { jobs = [] } = await call("ml_list_jobs", { limit: 5 });
  if (jobs.length === 0) report.failures.push("ml_list_jobs: no job of this session's compile or retrain");
  else {
    const job = await call("ml_job", { job_id: jobs[0].job_id });
    if (job.job?.status !== "succeeded") report.failures.push(`ml_job: ${JSON.stringify(job).slice(0, 300)}`);
    const cancelled = await call("ml_job_cancel", { job_id: jobs[0].job_id });
    if (cancelled.cancelled !== false) report.failures.push(`ml_job_cancel of a finished job: ${JSON.stringify(cancelled)}`);
  }
  // live quality: predictions of the throwaway model are captured; actuals join them by id
  const predicted = await call("ml_predict", { model: `${M}@1`, features: config.rows.slice(0, 5) });
  const ids = predicted.prediction_ids ?? [];
  if (ids.length !== 5) report.failures.push(`ml_predict with capture on: ${JSON.stringify(predicted).slice(0, 300)}`);
  const actuals = Object.fromEntries(ids.map((id, i) => [id, config.actuals[i]]));
  const recorded = await call("ml_record_actuals", { model: M, actuals: { ...actuals, "no-such-id": 1 } });
  if (recorded.recorded !== ids.length || recorded.unknown?.[0] !== "no-such-id")
    report.failures.push(`ml_record_actuals: ${JSON.stringify(recorded).slice(0, 300)}`);
  const perf = await call("ml_performance", { model: M });
  if (!(perf.versions?.some((v) => v.matched === ids.length)))
    report.failures.push(`ml_performance: ${JSON.stringify(perf).slice(0, 300)}`);
  const { rows: audit = [] } = await call("ml_audit", { limit: 5, model: M, tool: "ml_record_actuals" });
  if (audit.length !== 1) report.failures.push(`ml_audit: ${JSON.stringify(audit).slice(0, 300)}`);

  // a typed model tool (MLGATE_MODEL_TOOLS) answers exactly what the generic tool answers
  if (config.typed) {
    const info = await call("ml_model_info", { model: config.typed.model });
    const generic = await call("ml_predict", { model: config.typed.model, features: info.example?.features });
    const typed = await call(config.typed.tool, { records: info.example?.features });
    if (JSON.stringify(typed) !== JSON.stringify(generic) || !typed.predictions)
      report.failures.push(`${config.typed.tool}: ${JSON.stringify(typed).slice(0, 300)} vs ml_predict ${JSON.stringify(generic).slice(0, 300)}`);
  }

  // No Hub is reachable from the test and MLGATE_PULL_ALLOWLIST is empty: mlgate must refuse with a tool
  // error (isError), not a protocol error. A real pull is covered by tests/supply/test_pull_tool.py.
  await call("ml_pull", { repo_id: "acme/not-allowed", revision: "0123456789abcdef0123456789abcdef01234567" },
    { expectError: true });

  const called = new Set(report.calls.map((c) => c.tool));
  for (const name of report.listed) {
    if (!called.has(name) && !(name in SKIPPED)) report.failures.push(`${name}: listed but neither called nor skipped`);
  }
} catch (err) {
  report.failures.push(`client: ${err?.stack ?? err}`);
} finally {
  await client.close().catch(() => {});
}
if (report.failures.length) report.serverLog = serverLog;
console.log(JSON.stringify(report));
process.exit(report.failures.length ? 1 : 0);
