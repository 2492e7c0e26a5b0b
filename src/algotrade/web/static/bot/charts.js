// The bot page's two Plotly charts: price (candlesticks, buy/sell markers from fills, open
// orders as horizontal lines at their limit price) and equity with drawdown. Data changes are
// collected and drawn once per animation frame with Plotly.react (which diffs, and keeps the
// user's zoom through `uirevision`).

const MAX_BARS = 1000;
const MAX_FILLS = 1000;
const MAX_EQUITY = 5000;
const OPEN_STATUSES = new Set(["new", "accepted", "partially_filled", "pending", "open", "submitted"]);

const THEME = {
  paper_bgcolor: "#161b22",
  plot_bgcolor: "#161b22",
  font: { color: "#e6edf3", size: 11 },
  margin: { l: 56, r: 16, t: 28, b: 32 },
  showlegend: true,
  legend: { orientation: "h", x: 0, y: 1.08 },
};
const GRID = { gridcolor: "#30363d", zerolinecolor: "#30363d" };
const CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["select2d", "lasso2d"] };

export class PriceChart {
  constructor(Plotly, el, botId) {
    this.Plotly = Plotly;
    this.el = el;
    this.botId = botId;
    this.bars = new Map(); // ts → bar
    this.fills = new Map(); // trade_id → fill
    this.orders = new Map(); // client_order_id → order (open ones only)
    this.frame = 0;
  }

  setBars(list) {
    for (const bar of list) this.bars.set(bar.ts, bar);
    this._trim(this.bars, MAX_BARS);
    this.schedule();
  }

  addFills(list) {
    for (const fill of list) this.fills.set(fill.trade_id, fill);
    this._trim(this.fills, MAX_FILLS);
    this.schedule();
  }

  upsertOrders(list) {
    for (const order of list) {
      const known = this.orders.get(order.client_order_id);
      if (known && (known.updated_ts ?? 0) > (order.updated_ts ?? 0)) continue; // stale copy
      if (OPEN_STATUSES.has(order.status) && order.limit_price !== null && order.limit_price !== undefined) {
        this.orders.set(order.client_order_id, order);
      } else {
        this.orders.delete(order.client_order_id);
      }
    }
    this.schedule();
  }

  _trim(map, max) {
    if (map.size <= max) return;
    const keys = [...map.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const key of keys.slice(0, map.size - max)) map.delete(key);
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.draw());
  }

  draw() {
    this.frame = 0;
    const bars = [...this.bars.values()].sort((a, b) => a.ts - b.ts);
    const firstTs = bars.length ? bars[0].ts : null;
    const fills = [...this.fills.values()]
      .filter((f) => firstTs === null || f.ts >= firstTs)
      .sort((a, b) => a.ts - b.ts);
    const side = (s) => fills.filter((f) => f.side === s);
    const buys = side("buy");
    const sells = side("sell");
    const marker = (list, name, symbol, color) => ({
      type: "scatter",
      mode: "markers",
      name,
      x: list.map((f) => f.timestamp),
      y: list.map((f) => Number(f.price)),
      text: list.map((f) => `${f.side} ${f.qty} @ ${f.price}`),
      hoverinfo: "text+x",
      marker: { symbol, color, size: 11, line: { color: "#0d1117", width: 1 } },
    });
    const data = [
      {
        type: "candlestick",
        name: bars.length ? bars[0].symbol : "price",
        x: bars.map((b) => b.time),
        open: bars.map((b) => b.open),
        high: bars.map((b) => b.high),
        low: bars.map((b) => b.low),
        close: bars.map((b) => b.close),
        increasing: { line: { color: "#3fb950" } },
        decreasing: { line: { color: "#f85149" } },
      },
      marker(buys, "buy", "triangle-up", "#3fb950"),
      marker(sells, "sell", "triangle-down", "#f85149"),
    ];
    const orders = [...this.orders.values()];
    const shapes = orders.map((o) => ({
      type: "line",
      xref: "paper",
      x0: 0,
      x1: 1,
      y0: Number(o.limit_price),
      y1: Number(o.limit_price),
      line: { color: o.side === "buy" ? "#3fb950" : "#f85149", width: 1, dash: "dot" },
    }));
    const annotations = orders.map((o) => ({
      xref: "paper",
      x: 1,
      xanchor: "right",
      y: Number(o.limit_price),
      yanchor: "bottom",
      showarrow: false,
      font: { size: 10, color: o.side === "buy" ? "#3fb950" : "#f85149" },
      text: `${o.side} ${o.qty} @ ${o.limit_price}`,
    }));
    const layout = {
      ...THEME,
      uirevision: this.botId,
      title: { text: bars.length ? "" : "No bars yet: they appear while the bot runs", font: { size: 12 } },
      xaxis: { ...GRID, type: "date", rangeslider: { visible: false } },
      yaxis: { ...GRID, title: { text: "price" }, autorange: true },
      shapes,
      annotations,
    };
    this.Plotly.react(this.el, data, layout, CONFIG);
  }

  destroy() {
    cancelAnimationFrame(this.frame);
    this.Plotly.purge(this.el);
  }
}

export class EquityChart {
  constructor(Plotly, el, botId) {
    this.Plotly = Plotly;
    this.el = el;
    this.botId = botId;
    this.points = new Map(); // ts (ns or ms*1e6) → {time, equity}
    this.frame = 0;
  }

  setPoints(list) {
    for (const p of list) this.points.set(p.ts, { time: p.timestamp, equity: Number(p.equity) });
    this._trim();
    this.schedule();
  }

  /** A live point from a status event (between the stored snapshots). */
  addLive(iso, equity) {
    const ts = Date.parse(iso) * 1e6;
    if (!Number.isFinite(ts) || equity === null || equity === undefined) return;
    const last = [...this.points.values()].at(-1);
    if (last && last.equity === Number(equity)) return;
    this.points.set(ts, { time: iso, equity: Number(equity) });
    this._trim();
    this.schedule();
  }

  _trim() {
    if (this.points.size <= MAX_EQUITY) return;
    const keys = [...this.points.keys()].sort((a, b) => a - b);
    for (const key of keys.slice(0, this.points.size - MAX_EQUITY)) this.points.delete(key);
  }

  schedule() {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.draw());
  }

  draw() {
    this.frame = 0;
    const pts = [...this.points.entries()].sort((a, b) => a[0] - b[0]).map(([, p]) => p);
    let peak = -Infinity;
    let maxDd = 0;
    const dd = pts.map((p) => {
      peak = Math.max(peak, p.equity);
      const value = peak > 0 ? (p.equity / peak - 1) * 100 : 0;
      maxDd = Math.min(maxDd, value);
      return value;
    });
    const x = pts.map((p) => p.time);
    const data = [
      { type: "scatter", mode: "lines", name: "equity", x, y: pts.map((p) => p.equity), line: { color: "#58a6ff" } },
      { type: "scatter", mode: "lines", name: "drawdown %", x, y: dd, yaxis: "y2", fill: "tozeroy", line: { color: "#f85149", width: 1 } },
    ];
    const layout = {
      ...THEME,
      uirevision: this.botId,
      title: { text: `max drawdown ${maxDd.toFixed(2)} %`, font: { size: 12 } },
      // The time axis under the lower (drawdown) plot: anchored to the equity axis, its labels
      // would sit between the two plots, over the drawdown.
      xaxis: { ...GRID, type: "date", anchor: "y2" },
      yaxis: { ...GRID, domain: [0.35, 1], title: { text: "equity" } },
      yaxis2: { ...GRID, domain: [0, 0.28], title: { text: "dd %" }, rangemode: "tozero" },
    };
    this.Plotly.react(this.el, data, layout, CONFIG);
  }

  destroy() {
    cancelAnimationFrame(this.frame);
    this.Plotly.purge(this.el);
  }
}
