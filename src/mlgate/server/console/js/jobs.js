// @ts-check
// Long calls answer with a job handle past the server's wait budget: follow it with ml_job.

import { clear, h } from "./ui.js";

const FINAL = ["succeeded", "failed", "cancelled", "interrupted"];

/**
 * The tool's final result: `reply` itself when it is complete, else ml_job polled until the job ends.
 * `box` shows the progress bar and message meanwhile.
 * @param {import("./mcp.js").Caller} mcp
 * @param {any} reply a long tool's structured result, with `job` when it became a job
 * @param {HTMLElement} box
 * @returns {Promise<any>}
 */
export async function follow(mcp, reply, box) {
  if (!reply.job || reply.job.status === "succeeded") return reply;
  const bar = h("progress", { max: 1, value: 0, class: "job-progress" });
  const text = h("span", { class: "job-message" }, "queued");
  clear(box, h("div", { class: "job", dataset: { job: reply.job.job_id } }, h("code", {}, reply.job.job_id.slice(0, 8)), " ", bar, " ", text));
  for (;;) {
    const { job } = await mcp.call("ml_job", { job_id: reply.job.job_id });
    const p = job.progress || {};
    if (p.total) {
      bar.max = p.total;
      bar.value = p.done;
    }
    text.textContent = `${job.status}${p.message ? `: ${p.message}` : ""}${p.total ? ` (${Math.round((100 * p.done) / p.total)}%)` : ""}`;
    if (FINAL.includes(job.status)) {
      if (job.status !== "succeeded") throw new Error(`job ${job.status}: ${job.error || "no result"}`);
      bar.max = 1;
      bar.value = 1;
      return { ...job.result, job: { job_id: job.job_id, status: job.status } };
    }
    await new Promise((resolve) => setTimeout(resolve, 400));
  }
}

/**
 * @param {any[]} jobs ml_list_jobs's `jobs`
 * @returns {HTMLTableElement}
 */
export function jobsTable(jobs) {
  return h(
    "table",
    { class: "jobs" },
    h("thead", {}, h("tr", {}, ["job", "tool", "status", "progress", "created", "finished"].map((t) => h("th", {}, t)))),
    h(
      "tbody",
      {},
      jobs.map((j) =>
        h("tr", {}, h("td", {}, h("code", { title: j.job_id }, j.job_id.slice(0, 8))), h("td", {}, j.tool), h("td", {}, j.status), h("td", {}, j.progress?.message || ""), h("td", {}, j.created_at), h("td", {}, j.finished_at || "")),
      ),
    ),
  );
}
