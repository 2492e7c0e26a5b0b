// Overview: the summary across bots (GET /api/summary, then live from the WS topic "summary"),
// alerts and lockouts.

const STATES = ["running", "paused", "stopped", "error"];

export async function render(root, ctx) {
  const { h, fmt } = ctx;
  const cards = h("div", { class: "grid", "data-testid": "summary-cards" });
  const states = h("div", { class: "toolbar", "data-testid": "summary-states" });
  const alerts = h("ul", { class: "alerts", "data-testid": "alerts" });
  const lockouts = h("tbody", { "data-testid": "lockouts" });
  const updated = h("span", { class: "muted", "data-testid": "summary-updated" });
  root.append(
    h("div", { class: "toolbar" }, h("h1", { text: "Overview" }), h("span", { class: "spacer" }), updated),
    cards,
    h("div", { class: "panel" }, h("h2", { text: "Bots by state" }), states),
    h(
      "div",
      { class: "grid two" },
      h("div", { class: "panel" }, h("h2", { text: "Alerts" }), alerts),
      h(
        "div",
        { class: "panel" },
        h("h2", { text: "Lockouts" }),
        h(
          "div",
          { class: "table-wrap short" },
          h("table", {}, h("thead", {}, h("tr", {}, ["Account", "Rule", "Reason", "Until"].map((t) => h("th", { text: t })))), lockouts),
        ),
      ),
    ),
  );

  const card = (label, value, testid, cls) =>
    h("div", { class: "card" }, h("div", { class: "label", text: label }), h("div", { class: ["value", cls], text: value, "data-testid": testid }));

  let latest = null;
  let frame = 0;
  const paint = () => {
    frame = 0;
    const s = latest;
    if (!s) return;
    ctx.clear(cards);
    cards.append(
      card("Bots", String(s.bots), "sum-bots"),
      card("Equity", fmt.money(s.equity), "sum-equity"),
      card("PnL today", fmt.money(s.pnl_today), "sum-pnl-today", fmt.sign(s.pnl_today)),
      card("PnL total", fmt.money(s.pnl_total), "sum-pnl-total", fmt.sign(s.pnl_total)),
      card("Realized", fmt.money(s.realized_pnl), "sum-realized", fmt.sign(s.realized_pnl)),
      card("Unrealized", fmt.money(s.unrealized_pnl), "sum-unrealized", fmt.sign(s.unrealized_pnl)),
      card("Fees", fmt.money(s.fees), "sum-fees"),
      card("Open positions", String(s.open_positions), "sum-positions"),
      card("Errors / warnings", `${s.errors} / ${s.warnings}`, "sum-errors", s.errors ? "neg" : ""),
    );
    ctx.clear(states);
    for (const state of STATES) {
      states.append(
        h("a", { href: "#/bots", class: ["state", state], "data-testid": `sum-state-${state}`, text: `${state} ${s.states?.[state] ?? 0}` }),
      );
    }
    states.append(
      h("span", { class: "mode sim", text: `SIM ${s.simulated}`, "data-testid": "sum-sim" }),
      h("span", { class: "mode live", text: `LIVE ${s.live}`, "data-testid": "sum-live" }),
    );
    if (s.blocked) states.append(h("span", { class: "badge neg", text: `${s.blocked} blocked` }));
    ctx.clear(alerts);
    if (!s.alerts?.length) alerts.append(h("li", { class: "muted", text: "No alerts." }));
    for (const a of s.alerts || []) {
      alerts.append(
        h(
          "li",
          { class: ["alert", a.level], "data-testid": "alert" },
          h("span", { class: "mono", text: fmt.time(a.timestamp) }),
          " ",
          h("span", { class: "badge", text: a.source }),
          " ",
          a.source === "bot" ? h("a", { href: `#/bots/${encodeURIComponent(a.subject)}`, text: a.subject }) : h("strong", { text: a.subject }),
          ": ",
          a.message,
        ),
      );
    }
    ctx.clear(lockouts);
    if (!s.lockouts?.length) lockouts.append(h("tr", {}, h("td", { colspan: 4, class: "empty", text: "No account is locked." })));
    for (const l of s.lockouts || []) {
      lockouts.append(
        h("tr", { "data-testid": "lockout" }, h("td", { text: l.account_id }), h("td", { text: l.rule }), h("td", { text: l.reason }), h("td", { text: l.until ? fmt.time(l.until) : "until unlocked" })),
      );
    }
    updated.textContent = `updated ${fmt.time(s.updated_at)}`;
  };
  const show = (summary) => {
    latest = summary;
    if (!frame) frame = requestAnimationFrame(paint);
  };

  try {
    show(await ctx.api("/api/summary", { signal: ctx.signal }));
  } catch (err) {
    if (err.name === "AbortError") return undefined;
    root.append(h("div", { class: "panel error", text: `Summary: ${err.message}` }));
  }
  const unsubscribe = ctx.ws.subscribe(["summary"], "*", (msg) => {
    if (msg.type === "snapshot" && msg.data.length) show(msg.data[0]);
    else if (msg.type === "event") show(msg.data);
  });
  return () => {
    unsubscribe();
    cancelAnimationFrame(frame);
  };
}
