// Backtest: run a strategy over a dataset or SIMULATED prices in a worker process of the daemon
// (POST /api/backtests) and read its report.
//
// The form is generated: strategy parameters from GET /api/strategies (params_schema), the run
// and synthetic-data settings from the BacktestRequest/SyntheticData schemas of /openapi.json;
// a 422 is shown next to the field it names. The job list comes from GET /api/backtests. Job
// state is not on the WebSocket: while a job is queued or running the list is re-read every
// 1.5 s, and not at all otherwise. The report is the backtester's self-contained HTML, shown in
// a sandboxed iframe (scripts only: no access to the dashboard's origin, cookies or API).
// A trader sees the jobs and reports, no form and no cancel/delete.

import { schemaForm, showApiError, showLocalErrors } from "../lib/schema_form.js";

const ACTIVE = new Set(["queued", "running"]);
const STATE_CLASS = { queued: "paused", running: "running", done: "stopped", failed: "error", cancelled: "stopped" };
const RUN_OMIT = ["strategy", "params", "dataset", "synthetic"];

function resolver(root) {
  return (ref) => {
    let node = root;
    for (const part of ref.replace(/^#\//, "").split("/")) node = node && node[part];
    return node || {};
  };
}

function percent(value) {
  if (value === null || value === undefined) return "—";
  const n = Number(value);
  return Number.isFinite(n) ? `${(n * 100).toFixed(2)}%` : "—";
}

export async function render(root, ctx) {
  const { h, fmt } = ctx;
  const signal = ctx.signal;
  const jobsBody = h("tbody", { "data-testid": "bt-jobs" });
  const jobsEmpty = h("div", { class: "empty", "data-testid": "bt-jobs-empty", text: "Loading…" });
  const live = h("span", { class: "muted", "data-testid": "bt-live" });
  const reportPanel = h("div", { class: "panel", "data-testid": "bt-report-panel", hidden: true });
  const formPanel = h("div", { class: "panel", "data-testid": "bt-form-panel" });
  root.append(
    h("div", { class: "toolbar" }, h("h1", { text: "Backtest" }), h("span", { class: "spacer" }), live),
    ctx.canWrite
      ? formPanel
      : h("p", { class: "muted", "data-testid": "bt-read-only", text: "Running a backtest needs an admin key; the jobs and their reports are listed below." }),
    h(
      "div",
      { class: "panel" },
      h("h2", { text: "Jobs (newest first)" }),
      h(
        "div",
        { class: "table-wrap short" },
        h(
          "table",
          { "data-testid": "bt-jobs-table" },
          h("thead", {}, h("tr", {}, ["Job", "Created", "Strategy", "Data", "State", "Return", "Max DD", "Trades", ""].map((t) => h("th", { text: t })))),
          jobsBody,
        ),
        jobsEmpty,
      ),
    ),
    reportPanel,
  );

  let jobs = [];
  let shownReport = null;
  let followJob = null; // the job this page submitted: its report opens when it is done

  // -- jobs ---------------------------------------------------------------------------------
  // Followed over the WebSocket topic "backtests": a snapshot of the newest jobs, then each
  // job whenever its state changes ({job_id, deleted: true} when removed). No polling.

  function jobsChanged() {
    jobs.sort((a, b) => (a.job_id < b.job_id ? 1 : a.job_id > b.job_id ? -1 : 0));
    paintJobs();
    const follow = followJob && jobs.find((j) => j.job_id === followJob);
    if (follow && !ACTIVE.has(follow.state)) {
      followJob = null;
      if (follow.state === "done") showReport(follow);
      else ctx.toast(`Backtest ${follow.state}: ${follow.error || ""}`, follow.state === "failed" ? "error" : "warn");
    }
    const active = jobs.some((j) => ACTIVE.has(j.state));
    live.textContent = active ? "A backtest is running: its state updates live." : "";
  }

  function onJobMessage(msg) {
    if (msg.type === "snapshot") {
      jobs = msg.data.slice();
    } else if (msg.type === "event") {
      const change = msg.data;
      jobs = jobs.filter((j) => j.job_id !== change.job_id);
      if (!change.deleted) jobs.push(change);
      if (shownReport === change.job_id && change.deleted) hideReport();
    } else {
      return;
    }
    jobsChanged();
  }

  async function loadJobs() {
    jobs = (await ctx.api("/api/backtests?limit=50", { signal })) || [];
    jobsChanged();
  }

  function paintJobs() {
    ctx.clear(jobsBody);
    jobsEmpty.hidden = jobs.length > 0;
    jobsEmpty.textContent = "No backtests yet.";
    for (const job of jobs) jobsBody.append(jobRow(job));
  }

  function jobRow(job) {
    const m = job.metrics || {};
    const data = job.synthetic
      ? h("span", { class: "mode sim", text: "SYNTHETIC", title: "generated prices, not market data", "data-testid": "bt-job-synthetic" })
      : h("span", { class: "mono", text: job.dataset || "—" });
    const actions = h("td", { class: "actions" });
    if (job.state === "done") {
      actions.append(h("button", { class: "btn small", text: "Report", "data-testid": "bt-job-report", on: { click: () => showReport(job) } }));
    }
    if (ctx.canWrite) {
      const active = ACTIVE.has(job.state);
      actions.append(
        h("button", {
          class: "btn small danger",
          text: active ? "Cancel" : "Delete",
          "data-testid": active ? "bt-job-cancel" : "bt-job-delete",
          on: { click: () => removeJob(job, active) },
        }),
      );
    }
    const state = h("span", { class: ["state", STATE_CLASS[job.state]], text: job.state, "data-testid": "bt-job-state", title: job.error || "" });
    return h(
      "tr",
      { "data-testid": "bt-job", "data-job-id": job.job_id, "data-state": job.state },
      h("td", { class: "mono", text: job.job_id }),
      h("td", { class: "mono", text: fmt.time(job.created_at) }),
      h("td", { text: job.strategy, title: JSON.stringify(job.params) }),
      h("td", {}, data),
      h("td", {}, state, job.error ? h("div", { class: "neg", text: job.error, "data-testid": "bt-job-error", style: { whiteSpace: "normal", maxWidth: "420px" } }) : null),
      h("td", { class: ["num", fmt.sign(m.total_return)], text: percent(m.total_return), "data-testid": "bt-job-return" }),
      h("td", { class: "num", text: percent(m.max_drawdown) }),
      h("td", { class: "num", text: m.trades === undefined ? "—" : String(m.trades) }),
      actions,
    );
  }

  async function removeJob(job, active) {
    const question = active ? `Cancel backtest ${job.job_id}? A running one is stopped at once.` : `Delete backtest ${job.job_id} and its report?`;
    if (!(await ctx.confirm(question))) return;
    try {
      await ctx.api(`/api/backtests/${encodeURIComponent(job.job_id)}`, { method: "DELETE" });
      if (shownReport === job.job_id && !active) hideReport();
    } catch (err) {
      ctx.toast(`${active ? "Cancel" : "Delete"} ${job.job_id}: ${err.message}`, "error");
    }
  }

  // -- report -------------------------------------------------------------------------------

  function showReport(job) {
    shownReport = job.job_id;
    ctx.clear(reportPanel);
    reportPanel.hidden = false;
    reportPanel.append(
      h(
        "div",
        { class: "toolbar" },
        h("h2", { text: `Report ${job.job_id}` }),
        job.synthetic ? h("span", { class: "mode sim", text: "SYNTHETIC DATA" }) : null,
        h("span", { class: "spacer" }),
        h("a", { href: job.report_url, target: "_blank", rel: "noopener", text: "Open in a new tab", "data-testid": "bt-report-link" }),
        h("button", { class: "btn small", text: "Close", on: { click: hideReport } }),
      ),
      h("iframe", {
        src: job.report_url,
        title: `Backtest report ${job.job_id}`,
        sandbox: "allow-scripts allow-downloads",
        referrerpolicy: "no-referrer",
        "data-testid": "bt-report",
        style: { width: "100%", height: "80vh", border: "0", background: "#fff", borderRadius: "6px" },
      }),
    );
    reportPanel.scrollIntoView({ behavior: "smooth", block: "start" });
  }

  function hideReport() {
    shownReport = null;
    reportPanel.hidden = true;
    ctx.clear(reportPanel);
  }

  // -- form (admins) ------------------------------------------------------------------------

  async function buildForm() {
    const [strategies, openapi, datasets] = await Promise.all([
      ctx.api("/api/strategies", { signal }),
      ctx.api("/openapi.json", { signal }),
      ctx.api("/api/datasets", { signal }),
    ]);
    const schemas = openapi?.components?.schemas || {};
    const runSchema = schemas.BacktestRequest;
    const synthSchema = schemas.SyntheticData;
    if (!runSchema || !synthSchema || !strategies?.length) {
      formPanel.append(h("p", { class: "neg", text: "The daemon offers no backtest form (no strategies or no schema)." }));
      return;
    }
    const resolve = resolver(openapi);
    const strategy = h("select", { "data-testid": "bt-strategy", name: "strategy" }, strategies.map((s) => h("option", { value: s.name, text: s.name })));
    const strategyError = h("div", { class: "field-error", "data-testid": "field-error-strategy" });
    const strategyHint = h("div", { class: "hint" });
    const paramsBox = h("div", { class: "form-grid", "data-testid": "bt-params" });
    let params = null;
    const buildParams = () => {
      const info = strategies.find((s) => s.name === strategy.value);
      strategyHint.textContent = info?.description || "";
      ctx.clear(paramsBox);
      paramsBox.append(h("div", { class: "form-section", text: `Parameters of ${info.name}` }));
      const ps = info.params_schema || {};
      params = schemaForm(ctx, ps, {}, { prefix: "params.", resolve: resolver(ps) });
      paramsBox.append(...params.rows);
    };
    strategy.addEventListener("change", buildParams);
    buildParams();

    // Data: a dataset file of the daemon, or generated (SIMULATED) prices.
    const sourceName = `bt-source-${Math.random().toString(36).slice(2)}`;
    const useSynthetic = h("input", { type: "radio", name: sourceName, value: "synthetic", checked: true, "data-testid": "bt-source-synthetic" });
    const useDataset = h("input", { type: "radio", name: sourceName, value: "dataset", disabled: !datasets?.length, "data-testid": "bt-source-dataset" });
    const dataset = h(
      "select",
      { "data-testid": "bt-dataset", name: "dataset", disabled: true },
      (datasets || []).map((d) => h("option", { value: d.name, text: `${d.name}${d.rows !== null && d.rows !== undefined ? ` (${d.rows.toLocaleString("en-US")} rows)` : ""}` })),
    );
    const datasetError = h("div", { class: "field-error", "data-testid": "field-error-dataset" });
    const synthBox = h("div", { class: "form-grid", "data-testid": "bt-synthetic" });
    const synthetic = schemaForm(ctx, synthSchema, {}, { prefix: "synthetic.", resolve });
    synthBox.append(h("div", { class: "form-section", text: "Synthetic data: SIMULATED prices (a seeded random walk), labelled as such in the report" }), ...synthetic.rows);
    const onSource = () => {
      const synth = useSynthetic.checked;
      synthBox.classList.toggle("hidden", !synth); // .form-grid sets display: [hidden] alone loses
      dataset.disabled = synth;
    };
    useSynthetic.addEventListener("change", onSource);
    useDataset.addEventListener("change", onSource);

    const run = schemaForm(ctx, runSchema, {}, { omit: RUN_OMIT, resolve });
    const message = h("div", { class: "field-error", role: "alert", "data-testid": "bt-error" });
    const submit = h("button", { type: "submit", class: "btn primary", text: "Run backtest", "data-testid": "bt-submit" });
    const forms = () => [params, synthetic, run]; // params is rebuilt with the strategy
    const form = h(
      "form",
      {
        "data-testid": "bt-form",
        on: {
          submit: async (event) => {
            event.preventDefault();
            message.textContent = "";
            strategyError.textContent = "";
            datasetError.textContent = "";
            const read = { params: params.read(), synthetic: synthetic.read(), run: run.read() };
            const checked = [read.params, read.run, ...(useSynthetic.checked ? [read.synthetic] : [])];
            if (!showLocalErrors(forms(), checked, message)) return;
            const body = { ...read.run.values, strategy: strategy.value, params: read.params.values };
            if (useSynthetic.checked) body.synthetic = read.synthetic.values;
            else body.dataset = dataset.value;
            submit.disabled = true;
            try {
              const job = await ctx.api("/api/backtests", { method: "POST", body });
              followJob = job.job_id;
              ctx.toast(`Backtest ${job.job_id} queued.`, "ok"); // the row comes over the WebSocket
            } catch (err) {
              showApiError(err, forms(), message, { strategy: strategyError, dataset: datasetError });
            } finally {
              submit.disabled = false;
            }
          },
        },
      },
      h(
        "div",
        { class: "form-grid" },
        h("label", { text: "Strategy *" }),
        h("div", {}, strategy, strategyError),
        strategyHint,
      ),
      paramsBox,
      h(
        "div",
        { class: "form-grid" },
        h("div", { class: "form-section", text: "Data" }),
        h("label", {}, useSynthetic, " Synthetic"),
        h("div", {}, h("label", {}, useDataset, " Dataset "), dataset, datasetError),
        h("div", { class: "hint", text: datasets?.length ? "files in the daemon's datasets folder" : "no files in the daemon's datasets folder" }),
      ),
      synthBox,
      h("div", { class: "form-grid", "data-testid": "bt-run" }, h("div", { class: "form-section", text: "Run" }), ...run.rows),
      h("div", { class: "toolbar" }, submit),
      message,
    );
    formPanel.append(h("h2", { text: "New backtest" }), form);
    onSource();
  }

  // -- start --------------------------------------------------------------------------------

  if (ctx.canWrite) {
    buildForm().catch((err) => {
      if (err.name !== "AbortError") formPanel.append(h("p", { class: "neg", "data-testid": "bt-form-error", text: `Backtest form: ${err.message}` }));
    });
  }
  try {
    await loadJobs(); // also tells a daemon without backtests apart (404 backtests_disabled)
  } catch (err) {
    if (err.name === "AbortError") return undefined;
    jobsEmpty.textContent = err.code === "backtests_disabled" ? "Backtests are not available on this daemon." : `Backtests: ${err.message}`;
    return undefined;
  }
  return ctx.ws.subscribe(["backtests"], "*", onJobMessage);
}
