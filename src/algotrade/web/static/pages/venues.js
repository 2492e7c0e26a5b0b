// Venues: each live venue in use (GET /api/venues): connection, the last reconciliation
// (mismatches, unknown orders, adopted orders, missed fills), symbols blocked until they
// reconcile, and recent alerts. The WS topic "venues" (alerts) triggers a reload, coalesced to
// one per second at most: no polling. Admins can reconcile now (POST
// /api/venues/{venue}/reconcile); a trader sees no control.

const RELOAD_DELAY_MS = 1000;
const ALERTS_SHOWN = 50;

export async function render(root, ctx) {
  const { h, fmt } = ctx;
  const signal = ctx.signal;
  const list = h("div", { "data-testid": "venues-list" });
  const updated = h("span", { class: "muted", "data-testid": "venues-updated" });
  root.append(h("div", { class: "toolbar" }, h("h1", { text: "Venues" }), h("span", { class: "spacer" }), updated), list);

  async function load() {
    const venues = (await ctx.api("/api/venues", { signal })) || [];
    paint(venues);
    updated.textContent = `Updated ${fmt.time(new Date().toISOString())}`;
  }

  function paint(venues) {
    ctx.clear(list);
    if (!venues.length) {
      list.append(h("div", { class: "panel empty", "data-testid": "venues-empty", text: "No live venue in use: every bot trades on the simulated paper venue." }));
      return;
    }
    for (const v of venues) list.append(venuePanel(v));
  }

  function venuePanel(v) {
    const last = v.last_reconcile || null;
    const blocked = Object.entries(v.blocked || {});
    const alerts = (v.alerts || []).slice(-ALERTS_SHOWN).reverse(); // newest first
    const kv = (label, value, testid) => h("tr", {}, h("th", { text: label }), h("td", { class: "mono", text: value, "data-testid": testid }));
    const count = (items) => (Array.isArray(items) ? items.length : items ?? 0);
    const panel = h(
      "div",
      { class: "panel", "data-testid": "venue", "data-venue": v.venue },
      h(
        "div",
        { class: "toolbar" },
        h("h2", { text: v.venue }),
        h("span", { class: ["state", v.connected ? "running" : "error"], "data-testid": "venue-connected", text: v.connected ? "connected" : "disconnected" }),
        v.network ? h("span", { class: "badge", text: v.network }) : null,
        v.account ? h("span", { class: "mono muted", text: v.account }) : null,
        h("span", { class: "spacer" }),
        ctx.canWrite ? reconcileButton(v.venue) : null,
      ),
      h(
        "div",
        { class: "grid two" },
        h(
          "div",
          {},
          h("h2", { text: "Reconciliation" }),
          h(
            "table",
            { "data-testid": "venue-reconcile" },
            h(
              "tbody",
              {},
              kv("Reconciles", String(v.reconciles ?? 0), "venue-reconciles"),
              kv("Failed reconciles", String(v.reconcile_failures ?? 0)),
              kv("Last", last ? `${fmt.time(last.at)} (${last.reason || "—"})` : "never", "venue-last-reconcile"),
              kv("Mismatches", last ? String(count(last.mismatches)) : "—", "venue-mismatches"),
              kv("Foreign orders", last ? String(count(last.foreign_orders)) : "—"),
              kv("Orders adopted", last ? String(count(last.orders_adopted)) : "—"),
              kv("Fills routed", last ? String(count(last.fills_routed)) : "—"),
              kv("Pending fills", String(count(v.pending_fills))),
            ),
          ),
          last ? findings(last) : null,
        ),
        h(
          "div",
          {},
          h("h2", { text: "Blocked symbols" }),
          h(
            "ul",
            { class: "alerts", "data-testid": "venue-blocked" },
            blocked.length ? blocked.map(([coin, why]) => h("li", { class: "alert error" }, h("strong", { class: "mono", text: coin }), ": ", String(why))) : h("li", { class: "muted", text: "None." }),
          ),
        ),
      ),
      h("h2", { text: "Alerts (newest first)" }),
      h(
        "ul",
        { class: "alerts", "data-testid": "venue-alerts" },
        alerts.length
          ? alerts.map((a) => h("li", { class: "alert warning", "data-testid": "venue-alert" }, h("span", { class: "mono", text: fmt.time(a.at) }), " ", a.message))
          : h("li", { class: "muted", text: "No alerts." }),
      ),
    );
    return panel;
  }

  // What the last reconciliation found: position mismatches and orders we did not place.
  function findings(last) {
    const text = (x) => (typeof x === "string" ? x : JSON.stringify(x));
    const items = [
      ...(Array.isArray(last.mismatches) ? last.mismatches.map((m) => `mismatch: ${text(m)}`) : []),
      ...(Array.isArray(last.foreign_orders) ? last.foreign_orders.map((o) => `unknown order: ${text(o)}`) : []),
    ];
    if (!items.length) return null;
    return h("ul", { class: "alerts", "data-testid": "venue-findings" }, items.map((t) => h("li", { class: "alert warning", text: t })));
  }

  function reconcileButton(venue) {
    const button = h("button", {
      class: "btn",
      text: "Reconcile now",
      "data-testid": "venue-reconcile-now",
      on: {
        click: async () => {
          if (!(await ctx.confirm(`Reconcile ${venue} now (positions, open orders, missed fills)?`))) return;
          button.disabled = true;
          try {
            await ctx.api(`/api/venues/${encodeURIComponent(venue)}/reconcile`, { method: "POST" });
            ctx.toast(`Reconciled ${venue}.`, "ok");
            await load();
          } catch (err) {
            ctx.toast(`Reconcile ${venue}: ${err.message}`, "error");
            button.disabled = false;
          }
        },
      },
    });
    return button;
  }

  let timer = 0;
  const reload = () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = 0;
      load().catch((err) => {
        if (err.name !== "AbortError") ctx.toast(`Venues: ${err.message}`, "error");
      });
    }, RELOAD_DELAY_MS);
  };
  const unsubscribe = ctx.ws.subscribe(["venues"], "*", (msg) => {
    if (msg.type === "event") reload();
  });

  try {
    await load();
  } catch (err) {
    if (err.name !== "AbortError") root.append(h("div", { class: "panel error", "data-testid": "venues-error", text: `Venues: ${err.message}` }));
  }
  return () => {
    unsubscribe();
    clearTimeout(timer);
  };
}
