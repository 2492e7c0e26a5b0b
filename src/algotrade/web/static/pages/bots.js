// Bots: a table of every bot, live from the WS topic "status".
//
// Built for 1,000+ bots: status events are collected and applied once per animation frame;
// each bot's row is created once, keyed by bot id, and updated in place (a cell's text is
// written only when it changed); rows are re-ordered only when the sort order changed, by
// moving the rows that are out of place. One delegated click listener serves every button.

import { createPanel } from "../bot/create.js";

const ACTIONS = [
  // action, label, states it applies to
  ["start", "Start", ["stopped", "error"]],
  ["stop", "Stop", ["running", "paused"]],
  ["pause", "Pause", ["running"]],
  ["resume", "Resume", ["paused"]],
];
const STATE_ORDER = { error: 0, running: 1, paused: 2, stopped: 3 };

function num(text) {
  const n = Number(text);
  return Number.isFinite(n) ? n : -Infinity;
}

function positionOf(s) {
  const entries = Object.entries(s.position || {});
  if (!entries.length) return { text: "0", value: 0 };
  const own = s.symbol && s.position[s.symbol] !== undefined ? [[s.symbol, s.position[s.symbol]]] : entries;
  const text = own.length === 1 ? own[0][1] : own.map(([sym, q]) => `${sym} ${q}`).join(", ");
  return { text, value: own.length === 1 ? num(own[0][1]) : own.length };
}

function timeValue(iso) {
  return iso ? Date.parse(iso) || 0 : 0;
}

export async function render(root, ctx) {
  const { h, fmt } = ctx;
  const columns = [
    { key: "bot_id", label: "Bot", sort: (s) => s.bot_id },
    { key: "state", label: "State", sort: (s) => STATE_ORDER[s.state] ?? 9 },
    { key: "mode", label: "Mode", sort: (s) => (s.simulated ? 1 : 0) },
    { key: "symbol", label: "Symbol", sort: (s) => s.symbol || "" },
    { key: "venue", label: "Venue", sort: (s) => s.venue || "" },
    { key: "position", label: "Position", num: true, sort: (s) => positionOf(s).value },
    { key: "equity", label: "Equity", num: true, sort: (s) => num(s.equity) },
    { key: "pnl_today", label: "PnL today", num: true, sort: (s) => num(s.pnl_today) },
    { key: "fills", label: "Fills", num: true, sort: (s) => s.fill_count ?? 0 },
    { key: "last_fill", label: "Last fill", num: true, sort: (s) => timeValue(s.last_fill_at) },
    { key: "heartbeat", label: "Heartbeat", num: true, sort: (s) => timeValue(s.heartbeat) },
  ];
  const bots = new Map(); // bot id → latest status
  const rows = new Map(); // bot id → {tr, cells: {key: td}, status}
  const pending = new Map(); // bot id → status or {deleted}, applied on the next frame
  let sortKey = "bot_id";
  let sortDir = 1;
  let filter = "";
  let frame = 0;
  let haveSnapshot = false;
  let orderDirty = true;

  const tbody = h("tbody", { "data-testid": "bots-body" });
  const count = h("span", { class: "muted", "data-testid": "bots-count" });
  const empty = h("div", { class: "empty", "data-testid": "bots-empty", text: "Loading…" });
  const headRow = h("tr");
  for (const col of columns) {
    headRow.append(
      h("th", {
        class: ["sortable", col.num && "num"],
        text: col.label,
        "data-testid": `sort-${col.key}`,
        "data-key": col.key,
        "aria-sort": col.key === sortKey ? "ascending" : "none",
        on: { click: () => setSort(col.key) },
      }),
    );
  }
  if (ctx.canWrite) headRow.append(h("th", { text: "Actions" }));
  const filterBox = h("input", {
    type: "search",
    placeholder: "Filter: id, symbol, venue, state, strategy",
    "aria-label": "Filter bots",
    "data-testid": "bots-filter",
    size: 36,
    on: {
      input: (event) => {
        filter = event.target.value.trim().toLowerCase();
        for (const row of rows.values()) row.tr.hidden = !matches(row.status);
        updateCount();
      },
    },
  });
  const createBox = h("div", { "data-testid": "create-box" });
  let creating = null;
  const closeCreate = () => {
    if (creating) creating.element.remove();
    creating = null;
  };
  const toggleCreate = () => {
    if (creating) return closeCreate();
    creating = createPanel(ctx, {
      onClose: closeCreate,
      onCreated: (status) => {
        closeCreate();
        if (status && status.bot_id) {
          pending.set(status.bot_id, status);
          schedule();
        }
      },
    });
    createBox.append(creating.element);
    return undefined;
  };
  const newButton = ctx.canWrite
    ? h("button", { class: "btn primary", text: "New bot", "data-testid": "bot-create", on: { click: toggleCreate } })
    : null;
  root.append(
    h("div", { class: "toolbar" }, h("h1", { text: "Bots" }), newButton, h("span", { class: "spacer" }), filterBox, count),
    createBox,
    h("div", { class: "table-wrap tall" }, h("table", { "data-testid": "bots-table" }, h("thead", {}, headRow), tbody), empty),
  );

  function matches(s) {
    if (!filter) return true;
    return [s.bot_id, s.symbol, s.venue, s.state, s.strategy, s.simulated ? "sim" : "live"].some(
      (v) => v && String(v).toLowerCase().includes(filter),
    );
  }

  function setSort(key) {
    sortDir = key === sortKey ? -sortDir : 1;
    sortKey = key;
    for (const th of headRow.querySelectorAll("th[data-key]")) {
      th.setAttribute("aria-sort", th.dataset.key === sortKey ? (sortDir > 0 ? "ascending" : "descending") : "none");
    }
    orderDirty = true;
    schedule();
  }

  function updateCount() {
    let shown = 0;
    for (const row of rows.values()) if (!row.tr.hidden) shown += 1;
    count.textContent = shown === rows.size ? `${rows.size} bots` : `${shown} of ${rows.size} bots`;
    empty.hidden = rows.size > 0;
    if (!rows.size) empty.textContent = haveSnapshot ? "No bots yet." : "Loading…";
  }

  // -- rows ---------------------------------------------------------------------------------

  function makeRow(id) {
    const cells = {};
    const tr = h("tr", { "data-testid": "bot-row", "data-bot-id": id });
    for (const col of columns) {
      const td = h("td", { class: col.num ? "num" : null, "data-col": col.key });
      cells[col.key] = td;
      tr.append(td);
    }
    cells.bot_id.append(h("a", { href: `#/bots/${encodeURIComponent(id)}`, text: id, "data-testid": "bot-link" }));
    cells.state.append(h("span", { class: "state", "data-testid": "bot-state" }));
    cells.mode.append(h("span", { class: "mode", "data-testid": "bot-mode" }));
    cells.position.dataset.testid = "bot-position";
    cells.equity.dataset.testid = "bot-equity";
    cells.pnl_today.dataset.testid = "bot-pnl-today";
    cells.fills.dataset.testid = "bot-fills";
    cells.last_fill.dataset.testid = "bot-last-fill";
    cells.heartbeat.dataset.testid = "bot-heartbeat";
    if (ctx.canWrite) {
      const td = h("td", { class: "actions" });
      for (const [action, label] of ACTIONS) {
        td.append(h("button", { class: "btn small", text: label, "data-action": action, "data-testid": `bot-action-${action}` }));
      }
      td.append(h("button", { class: "btn small danger", text: "Delete", "data-action": "delete", "data-testid": "bot-action-delete" }));
      cells.actions = td;
      tr.append(td);
    }
    return { tr, cells, status: null };
  }

  function setText(el, text) {
    if (el.textContent !== text) el.textContent = text;
  }

  function setClass(el, cls) {
    if (el.className !== cls) el.className = cls;
  }

  function fillRow(row, s) {
    const old = row.status;
    row.status = s;
    const c = row.cells;
    const stateEl = c.state.firstChild;
    setText(stateEl, s.state);
    setClass(stateEl, `state ${s.state}`);
    stateEl.title = s.state === "error" && s.last_error ? s.last_error : s.blocked ? `blocked: ${s.blocked}` : "";
    const modeEl = c.mode.firstChild;
    setText(modeEl, s.simulated ? "SIM" : "LIVE");
    setClass(modeEl, s.simulated ? "mode sim" : "mode live");
    setText(c.symbol, s.symbol || "—");
    setText(c.venue, s.venue || "—");
    setText(c.position, fmt.qty(positionOf(s).text));
    setText(c.equity, fmt.money(s.equity));
    setText(c.pnl_today, fmt.money(s.pnl_today));
    setClass(c.pnl_today, `num ${fmt.sign(s.pnl_today)}`);
    setText(c.fills, String(s.fill_count ?? 0));
    setAges(row);
    if (c.actions && (!old || old.state !== s.state)) {
      for (const button of c.actions.querySelectorAll("button[data-action]")) {
        const spec = ACTIONS.find(([action]) => action === button.dataset.action);
        button.hidden = spec ? !spec[2].includes(s.state) : false;
      }
    }
    row.tr.hidden = !matches(s);
    if (!old || columns.find((col) => col.key === sortKey).sort(old) !== columns.find((col) => col.key === sortKey).sort(s)) {
      orderDirty = true;
    }
  }

  function setAges(row, now = Date.now()) {
    const s = row.status;
    setText(row.cells.last_fill, s.last_fill_at ? fmt.age(s.last_fill_at, now) : "—");
    row.cells.last_fill.title = s.last_fill_at ? fmt.time(s.last_fill_at) : "";
    setText(row.cells.heartbeat, s.heartbeat ? fmt.age(s.heartbeat, now) : "—");
    row.cells.heartbeat.title = s.heartbeat ? fmt.time(s.heartbeat) : "";
  }

  function compare(a, b) {
    const col = columns.find((c) => c.key === sortKey);
    const va = col.sort(a.status);
    const vb = col.sort(b.status);
    if (va < vb) return -sortDir;
    if (va > vb) return sortDir;
    return a.status.bot_id < b.status.bot_id ? -1 : a.status.bot_id > b.status.bot_id ? 1 : 0;
  }

  function reorder() {
    const sorted = [...rows.values()].sort(compare);
    let node = tbody.firstChild;
    for (const row of sorted) {
      if (row.tr === node) node = node.nextSibling;
      else tbody.insertBefore(row.tr, node); // moves it; `node` stays the next expected one
    }
    orderDirty = false;
  }

  // -- updates ------------------------------------------------------------------------------

  function schedule() {
    if (!frame) frame = requestAnimationFrame(flush);
  }

  function flush() {
    frame = 0;
    let changedCount = false;
    for (const [id, s] of pending) {
      if (s.deleted) {
        const row = rows.get(id);
        if (row) {
          row.tr.remove();
          rows.delete(id);
          bots.delete(id);
          changedCount = true;
        }
        continue;
      }
      let row = rows.get(id);
      if (!row) {
        row = makeRow(id);
        rows.set(id, row);
        tbody.append(row.tr);
        changedCount = true;
        orderDirty = true;
      }
      bots.set(id, s);
      fillRow(row, s);
    }
    pending.clear();
    if (orderDirty) reorder();
    if (changedCount || filter) updateCount();
    else if (!count.textContent) updateCount();
  }

  function replaceAll(list) {
    const ids = new Set(list.map((s) => s.bot_id));
    for (const id of rows.keys()) if (!ids.has(id)) pending.set(id, { deleted: true });
    for (const s of list) pending.set(s.bot_id, s);
    haveSnapshot = true;
    schedule();
    updateCount();
  }

  tbody.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const id = button.closest("tr").dataset.botId;
    const action = button.dataset.action;
    const path = `/api/bots/${encodeURIComponent(id)}`;
    if (action === "delete" && !(await ctx.confirm(`Delete bot ${id}? Its orders, fills, positions and equity history are removed for good.`))) return;
    button.disabled = true;
    try {
      if (action === "delete") {
        await ctx.api(path, { method: "DELETE" });
        pending.set(id, { deleted: true });
        ctx.toast(`Deleted ${id}.`, "ok");
      } else {
        const status = await ctx.api(`${path}/${action}`, { method: "PUT" });
        if (status && status.bot_id) pending.set(id, status);
      }
      schedule();
    } catch (err) {
      ctx.toast(`${action} ${id}: ${err.message}`, "error");
    } finally {
      button.disabled = false;
    }
  });

  const ageTimer = setInterval(() => {
    const now = Date.now();
    for (const row of rows.values()) if (!row.tr.hidden) setAges(row, now);
  }, 1000);

  const unsubscribe = ctx.ws.subscribe(["status"], "*", (msg) => {
    if (msg.type === "snapshot") replaceAll(msg.data);
    else if (msg.type === "event" && msg.data && msg.data.bot_id) {
      pending.set(msg.data.bot_id, msg.data);
      schedule();
    }
  });

  // The WebSocket snapshot brings the table; REST fills it first when it answers sooner.
  ctx
    .api("/api/bots", { signal: ctx.signal })
    .then((list) => {
      if (!haveSnapshot && Array.isArray(list)) replaceAll(list);
    })
    .catch((err) => {
      if (err.name !== "AbortError") ctx.toast(`Bots: ${err.message}`, "error");
    });

  updateCount();
  return () => {
    unsubscribe();
    clearInterval(ageTimer);
    cancelAnimationFrame(frame);
  };
}
