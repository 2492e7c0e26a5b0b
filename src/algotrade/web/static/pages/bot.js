// Bot detail: status and controls, price chart (bars + fills + open orders), equity and
// drawdown, orders, fills, positions, the bot's log stream and its config. REST loads the
// history; one WS subscription (status, bars, fills, orders, logs of this bot) keeps it live.

import { configPanel } from "../bot/config.js";
import { EquityChart, PriceChart } from "../bot/charts.js";
import { RecordTable } from "../bot/records.js";

const ACTIONS = [
  ["start", "Start", ["stopped", "error"]],
  ["stop", "Stop", ["running", "paused"]],
  ["pause", "Pause", ["running"]],
  ["resume", "Resume", ["paused"]],
];
const LOG_LIMIT = 500;

export async function render(root, ctx, params) {
  const { h, fmt } = ctx;
  const botId = params.botId;
  const base = `/api/bots/${encodeURIComponent(botId)}`;
  const signal = ctx.signal;

  let detail;
  try {
    detail = await ctx.api(base, { signal });
  } catch (err) {
    if (err.name === "AbortError") return undefined;
    root.append(
      h("div", { class: "panel error", "data-testid": "bot-missing" }, err.status === 404 ? `No bot '${botId}'.` : `Bot ${botId}: ${err.message}`, " ", h("a", { href: "#/bots", text: "All bots" })),
    );
    return undefined;
  }
  let status = detail.status;
  const cleanups = [];

  // -- header and status cards --------------------------------------------------------------
  const stateEl = h("span", { class: "state", "data-testid": "bot-state" });
  const modeEl = h("span", { class: "mode", "data-testid": "bot-mode" });
  const meta = h("span", { class: "muted", "data-testid": "bot-meta" });
  const actions = h("div", { class: "toolbar", "data-testid": "bot-actions" });
  const cards = h("div", { class: "grid", "data-testid": "bot-cards" });
  const errorBox = h("div", { class: "panel error", "data-testid": "bot-error", hidden: true });
  const deletedBox = h("div", { class: "panel error", "data-testid": "bot-deleted", hidden: true, text: "This bot was deleted." });
  const buttons = {};
  if (ctx.canWrite) {
    for (const [action, label] of ACTIONS) {
      buttons[action] = h("button", { class: "btn", text: label, "data-testid": `bot-action-${action}`, on: { click: () => act(action) } });
      actions.append(buttons[action]);
    }
    actions.append(h("button", { class: "btn danger", text: "Delete", "data-testid": "bot-action-delete", on: { click: remove } }));
  }
  root.append(
    h("div", { class: "toolbar" }, h("a", { href: "#/bots", text: "← Bots" }), h("h1", { "data-testid": "bot-title", text: botId }), stateEl, modeEl, meta, h("span", { class: "spacer" }), actions),
    deletedBox,
    errorBox,
    cards,
  );
  const cardValues = {};
  for (const [key, label] of [
    ["equity", "Equity"],
    ["pnl_today", "PnL today"],
    ["realized_pnl", "Realized"],
    ["unrealized_pnl", "Unrealized"],
    ["fees", "Fees"],
    ["position", "Position"],
    ["last_price", "Last price"],
    ["fills", "Orders / fills"],
    ["heartbeat", "Heartbeat"],
  ]) {
    cardValues[key] = h("div", { class: "value", "data-testid": `bot-card-${key}` });
    cards.append(h("div", { class: "card" }, h("div", { class: "label", text: label }), cardValues[key]));
  }

  const paintStatus = () => {
    const s = status;
    stateEl.textContent = s.state;
    stateEl.className = `state ${s.state}`;
    modeEl.textContent = s.simulated ? "SIM" : "LIVE";
    modeEl.className = s.simulated ? "mode sim" : "mode live";
    modeEl.title = s.simulated ? "Simulated: paper venue, no real orders" : "Live: real orders";
    meta.textContent = [s.symbol, s.strategy, s.interval, s.venue, s.account_id && `account ${s.account_id}`].filter(Boolean).join(" · ");
    cardValues.equity.textContent = fmt.money(s.equity);
    for (const key of ["pnl_today", "realized_pnl", "unrealized_pnl"]) {
      cardValues[key].textContent = fmt.money(s[key]);
      cardValues[key].className = `value ${fmt.sign(s[key])}`;
    }
    cardValues.fees.textContent = fmt.money(s.fees);
    const pos = Object.entries(s.position || {});
    cardValues.position.textContent = pos.length ? pos.map(([sym, q]) => `${fmt.qty(q)}${pos.length > 1 ? ` ${sym}` : ""}`).join(", ") : "0";
    cardValues.last_price.textContent = s.last_price === null || s.last_price === undefined ? "—" : fmt.num(s.last_price, 8);
    cardValues.fills.textContent = `${s.order_count ?? 0} / ${s.fill_count ?? 0}`;
    cardValues.heartbeat.textContent = fmt.age(s.heartbeat);
    cardValues.heartbeat.title = fmt.time(s.heartbeat);
    const problem = s.state === "error" && s.last_error ? `Error: ${s.last_error}` : s.blocked ? `Blocked: ${s.blocked}` : "";
    errorBox.hidden = !problem;
    errorBox.textContent = problem;
    for (const [action, , states] of ACTIONS) if (buttons[action]) buttons[action].hidden = !states.includes(s.state);
    config.setState(s.state);
  };

  async function act(action) {
    const button = buttons[action];
    button.disabled = true;
    try {
      const next = await ctx.api(`${base}/${action}`, { method: "PUT" });
      if (next && next.bot_id) {
        status = next;
        paintStatus();
      }
    } catch (err) {
      ctx.toast(`${action} ${botId}: ${err.message}`, "error");
    } finally {
      button.disabled = false;
    }
  }

  async function remove() {
    if (!(await ctx.confirm(`Delete bot ${botId}? Its orders, fills, positions and equity history are removed for good.`))) return;
    try {
      await ctx.api(base, { method: "DELETE" });
      ctx.toast(`Deleted ${botId}.`, "ok");
      ctx.navigate("#/bots");
    } catch (err) {
      ctx.toast(`delete ${botId}: ${err.message}`, "error");
    }
  }

  // -- charts -------------------------------------------------------------------------------
  const priceEl = h("div", { class: "chart", "data-testid": "price-chart" });
  const equityEl = h("div", { class: "chart small", "data-testid": "equity-chart" });
  root.append(h("div", { class: "panel" }, h("h2", { text: "Price, trades and open orders" }), priceEl));

  // -- tables -------------------------------------------------------------------------------
  const orders = new RecordTable(ctx, {
    testid: "orders-table",
    key: (o) => o.client_order_id,
    order: (o) => o.created_ts ?? 0,
    newer: (a, b) => (a.updated_ts ?? 0) >= (b.updated_ts ?? 0),
    emptyText: "No orders yet.",
    columns: [
      { label: "Created", value: (o) => fmt.time(o.created_at) },
      { label: "Side", value: (o) => o.side, class: (o) => (o.side === "buy" ? "pos" : "neg") },
      { label: "Type", value: (o) => o.type },
      { label: "Qty", num: true, value: (o) => fmt.qty(o.qty) },
      { label: "Limit", num: true, value: (o) => (o.limit_price ? fmt.price(o.limit_price) : "—") },
      { label: "Status", value: (o) => o.status, class: (o) => (o.status === "rejected" ? "neg" : "") },
      { label: "Filled", num: true, value: (o) => fmt.qty(o.filled_qty) },
      { label: "Avg price", num: true, value: (o) => (o.avg_fill_price ? fmt.price(o.avg_fill_price) : "—") },
      { label: "Id", value: (o) => o.client_order_id },
      { label: "Reason", value: (o) => o.reason || "" },
    ],
  });
  const fills = new RecordTable(ctx, {
    testid: "fills-table",
    key: (f) => f.trade_id,
    order: (f) => f.ts ?? 0,
    emptyText: "No fills yet.",
    columns: [
      { label: "Time", value: (f) => fmt.time(f.timestamp) },
      { label: "Side", value: (f) => f.side, class: (f) => (f.side === "buy" ? "pos" : "neg") },
      { label: "Qty", num: true, value: (f) => fmt.qty(f.qty) },
      { label: "Price", num: true, value: (f) => fmt.price(f.price) },
      { label: "Fee", num: true, value: (f) => fmt.money(f.fee) },
      { label: "Liquidity", value: (f) => f.liquidity },
      { label: "Trade", value: (f) => f.trade_id },
    ],
  });
  const positions = new RecordTable(ctx, {
    testid: "positions-table",
    key: (p) => p.symbol,
    order: (p) => p.symbol,
    emptyText: "No positions.",
    columns: [
      { label: "Symbol", value: (p) => p.symbol },
      { label: "Qty", num: true, value: (p) => fmt.qty(p.qty), class: (p) => fmt.sign(p.qty) },
      { label: "Avg price", num: true, value: (p) => fmt.price(p.avg_price) },
      { label: "Realized", num: true, value: (p) => fmt.money(p.realized_pnl), class: (p) => fmt.sign(p.realized_pnl) },
      { label: "Fees", num: true, value: (p) => fmt.money(p.fees) },
    ],
  });
  const logs = new RecordTable(ctx, {
    testid: "logs-table",
    // Live lines come before their row id is known (id null): a line is its time, kind and
    // text, and the newest time is shown first, whether it came from a page or the socket.
    key: (l) => `${l.timestamp}|${l.kind}|${l.message}`,
    order: (l) => l.timestamp,
    max: LOG_LIMIT,
    emptyText: "No log lines yet.",
    columns: [
      { label: "Time", value: (l) => fmt.time(l.timestamp) },
      { label: "Level", value: (l) => l.level, class: (l) => `level-${l.level}` },
      { label: "Kind", value: (l) => l.kind },
      { label: "Message", value: (l) => l.message },
    ],
  });
  const config = configPanel(ctx, botId, detail.config);
  root.append(
    h(
      "div",
      { class: "grid two" },
      h("div", { class: "panel" }, h("h2", { text: "Equity and drawdown" }), equityEl),
      h("div", { class: "panel" }, h("h2", { text: "Positions" }), positions.element),
      h("div", { class: "panel" }, h("h2", { text: "Orders (newest first)" }), orders.element),
      h("div", { class: "panel" }, h("h2", { text: "Fills (newest first)" }), fills.element),
    ),
    h("div", { class: "panel" }, h("h2", { text: "Log" }), logs.element),
    config.element,
  );
  cleanups.push(() => [orders, fills, positions, logs].forEach((t) => t.destroy()));
  paintStatus();

  // -- data ---------------------------------------------------------------------------------
  let Plotly = null;
  let price = null;
  let equity = null;
  try {
    Plotly = await ctx.plotly();
    price = new PriceChart(Plotly, priceEl, botId);
    equity = new EquityChart(Plotly, equityEl, botId);
    price.draw();
    cleanups.push(() => {
      price.destroy();
      equity.destroy();
    });
  } catch (err) {
    priceEl.textContent = `Charts unavailable: ${err.message}`;
  }
  if (signal.aborted) {
    cleanups.forEach((fn) => fn());
    return undefined;
  }

  let positionsTimer = 0;
  const refreshPositions = () => {
    clearTimeout(positionsTimer);
    positionsTimer = setTimeout(() => {
      ctx.api(`${base}/positions`, { signal }).then((list) => positions.set(list || []), () => {});
    }, 250);
  };
  cleanups.push(() => clearTimeout(positionsTimer));

  const load = (path, apply) =>
    ctx.api(`${base}/${path}`, { signal }).then(apply, (err) => {
      if (err.name !== "AbortError" && err.status !== 404) ctx.toast(`${path.split("?")[0]}: ${err.message}`, "error");
    });
  load("bars?limit=300", (bars) => price && price.setBars(bars || []));
  load("fills?order=desc&limit=200", (page) => {
    fills.upsert(page.items);
    if (price) price.addFills(page.items);
  });
  load("orders?order=desc&limit=200", (page) => {
    orders.upsert(page.items);
    if (price) price.upsertOrders(page.items);
  });
  load("equity?order=desc&limit=1000", (page) => equity && equity.setPoints(page.items));
  load("positions", (list) => positions.set(list || []));
  load("logs?limit=200", (page) => logs.upsert(page.items));

  const unsubscribe = ctx.ws.subscribe(["status", "bars", "fills", "orders", "logs"], botId, (msg) => {
    if (msg.type === "error") {
      ctx.toast(`Live updates for ${botId}: ${msg.error.message}`, "error");
      return;
    }
    const items = msg.type === "snapshot" ? msg.data : [msg.data];
    switch (msg.topic) {
      case "status":
        for (const s of items) {
          if (s.deleted) {
            deletedBox.hidden = false;
            actions.hidden = true;
            continue;
          }
          status = s;
          paintStatus();
          if (equity && msg.type === "event") equity.addLive(s.heartbeat || new Date().toISOString(), s.equity);
        }
        break;
      case "bars":
        if (price) price.setBars(items);
        break;
      case "fills":
        fills.upsert(items);
        if (price) price.addFills(items);
        if (msg.type === "event") refreshPositions();
        break;
      case "orders":
        orders.upsert(items);
        if (price) price.upsertOrders(items);
        break;
      case "logs":
        logs.upsert(items);
        break;
      default:
        break;
    }
  });
  cleanups.push(unsubscribe);

  const ageTimer = setInterval(() => {
    cardValues.heartbeat.textContent = fmt.age(status.heartbeat);
  }, 1000);
  cleanups.push(() => clearInterval(ageTimer));

  return () => cleanups.forEach((fn) => fn());
}
