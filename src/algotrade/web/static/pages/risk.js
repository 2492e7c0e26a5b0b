// Risk: every account of the risk engine (daily PnL, equity, can-trade), its rules with their
// state (off / ok / locked), active lockouts and the newest enforcement log lines.
// REST loads it (GET /api/risk/accounts, /lockouts, /enforcements); the WS topic "risk" (breaches,
// rejections, expiries, alerts) triggers a reload, coalesced to one per second at most: no
// polling. Admins unlock an account (POST /api/risk/accounts/{id}/unlock, with a reason and a
// confirmation); a trader sees no control.

const LOG_LIMIT = 100;
const RELOAD_DELAY_MS = 1000;

function ruleParams(config) {
  return Object.entries(config || {})
    .filter(([key]) => key !== "enabled")
    .map(([key, value]) => `${key}=${typeof value === "object" && value !== null ? JSON.stringify(value) : value}`)
    .join(", ");
}

export async function render(root, ctx) {
  const { h, fmt } = ctx;
  const signal = ctx.signal;
  const accountsBox = h("div", { "data-testid": "risk-accounts" });
  const lockoutsBody = h("tbody", { "data-testid": "risk-lockouts" });
  const logBody = h("tbody", { "data-testid": "risk-log" });
  const updated = h("span", { class: "muted", "data-testid": "risk-updated" });
  const disabled = h("div", { class: "panel", "data-testid": "risk-disabled", hidden: true });
  root.append(
    h("div", { class: "toolbar" }, h("h1", { text: "Risk" }), h("span", { class: "spacer" }), updated),
    disabled,
    accountsBox,
    h(
      "div",
      { class: "panel" },
      h("h2", { text: "Active lockouts" }),
      h(
        "div",
        { class: "table-wrap short" },
        h("table", {}, h("thead", {}, h("tr", {}, ["Account", "Rule", "Reason", "Since", "Until"].map((t) => h("th", { text: t })))), lockoutsBody),
      ),
    ),
    h(
      "div",
      { class: "panel" },
      h("h2", { text: "Enforcement log (newest first)" }),
      h(
        "div",
        { class: "table-wrap short" },
        h("table", {}, h("thead", {}, h("tr", {}, ["Time", "Account", "Kind", "Rule", "Action", "Message"].map((t) => h("th", { text: t })))), logBody),
      ),
    ),
  );

  async function newestLog() {
    // Pages run oldest first: ask for the size, then the last page.
    const head = await ctx.api(`/api/risk/enforcements?limit=1`, { signal });
    const offset = Math.max(0, (head?.total || 0) - LOG_LIMIT);
    const page = await ctx.api(`/api/risk/enforcements?limit=${LOG_LIMIT}&offset=${offset}`, { signal });
    return (page?.items || []).slice().reverse();
  }

  async function load() {
    let accounts;
    try {
      accounts = await ctx.api("/api/risk/accounts", { signal });
    } catch (err) {
      if (err.name === "AbortError") return;
      if (err.status === 404 && err.code === "risk_disabled") {
        disabled.hidden = false;
        ctx.clear(disabled);
        disabled.append(h("p", { class: "muted", text: "The account risk engine is not configured on this daemon (risk.accounts_file)." }));
        return;
      }
      throw err;
    }
    const [lockouts, log] = await Promise.all([ctx.api("/api/risk/lockouts?active_only=true&limit=200", { signal }), newestLog()]);
    ctx.keepingFocus(() => paintAccounts(accounts || [])); // the unlock reason being typed keeps focus
    paintLockouts(lockouts?.items || []);
    paintLog(log);
    updated.textContent = `Updated ${fmt.time(new Date().toISOString())}`;
  }

  function paintAccounts(accounts) {
    ctx.clear(accountsBox);
    if (!accounts.length) accountsBox.append(h("div", { class: "panel empty", text: "No accounts." }));
    for (const a of accounts) {
      const locked = new Map((a.lockouts || []).map((l) => [l.rule, l]));
      const tradable = a.can_trade && !locked.size;
      const rows = Object.entries(a.rules || {}).map(([name, config]) => {
        const lock = locked.get(name);
        const state = lock ? "locked" : config.enabled ? "ok" : "off";
        return h(
          "tr",
          { "data-testid": "risk-rule", "data-rule": name, "data-state": state },
          h("td", { class: "mono", text: name }),
          h("td", {}, h("span", { class: ["state", { locked: "error", ok: "running", off: "stopped" }[state]], text: state, "data-testid": "risk-rule-state" })),
          h("td", { class: "mono muted", text: ruleParams(config) }),
          h("td", { text: lock ? lock.reason : "" }),
        );
      });
      const card = (label, value, cls) => h("div", { class: "card" }, h("div", { class: "label", text: label }), h("div", { class: ["value", cls], text: value }));
      const panel = h(
        "div",
        { class: "panel", "data-testid": "risk-account", "data-account-id": a.account_id },
        h(
          "div",
          { class: "toolbar" },
          h("h2", { text: `Account ${a.account_id}` }),
          // can_trade is the account's own status (connected, not suspended); lockouts come on top.
          h("span", { class: ["state", tradable ? "running" : "error"], "data-testid": "risk-can-trade", text: locked.size ? "locked" : a.can_trade ? "can trade" : "blocked" }),
          a.connected === false ? h("span", { class: "badge neg", text: "disconnected" }) : null,
          a.status_reason ? h("span", { class: "muted", text: a.status_reason }) : null,
          h("span", { class: "spacer" }),
          h("span", { class: "muted", text: `trading day ${a.trading_day || "—"}` }),
        ),
        h(
          "div",
          { class: "grid" },
          card("Daily realized PnL", fmt.money(a.daily_realized_pnl), fmt.sign(a.daily_realized_pnl)),
          card("Daily fees", fmt.money(a.daily_fees)),
          card("Trades today", String(a.trades_today ?? 0)),
          card("Equity", fmt.money(a.equity)),
          card("Peak equity", fmt.money(a.peak_equity)),
          card("Open risk", fmt.money(a.open_risk), fmt.sign(a.open_risk)),
        ),
        h("div", { class: "table-wrap short" }, h("table", {}, h("thead", {}, h("tr", {}, ["Rule", "State", "Parameters", "Lockout"].map((t) => h("th", { text: t })))), h("tbody", {}, rows))),
      );
      if (ctx.canWrite && locked.size) panel.append(unlockControls(a.account_id));
      accountsBox.append(panel);
    }
  }

  // The reason box survives the repaints live events cause: what the admin typed stays.
  const reasons = new Map();

  function unlockControls(accountId) {
    if (!reasons.has(accountId)) {
      reasons.set(accountId, h("input", { type: "text", size: 40, maxlength: 500, placeholder: "Reason (kept in the audit log)", "data-testid": "risk-unlock-reason", "aria-label": "Unlock reason" }));
    }
    const reason = reasons.get(accountId);
    const button = h("button", {
      class: "btn danger",
      text: "Unlock account",
      "data-testid": "risk-unlock",
      on: {
        click: async () => {
          const why = reason.value.trim();
          if (!why) {
            // The audit log keeps why an account was unlocked: an admin must say it.
            reason.classList.add("invalid");
            reason.focus();
            ctx.toast(`Unlock ${accountId}: give a reason (it is kept in the audit log).`, "error");
            return;
          }
          reason.classList.remove("invalid");
          if (!(await ctx.confirm(`Unlock account ${accountId}? Its lockouts are cleared and its bots may trade again. Reason: ${why}`))) return;
          button.disabled = true;
          try {
            const answer = await ctx.api(`/api/risk/accounts/${encodeURIComponent(accountId)}/unlock`, { method: "POST", body: { reason: why } });
            ctx.toast(`Unlocked ${accountId}: ${(answer?.cleared || []).join(", ") || "nothing was locked"}.`, "ok");
            await load();
          } catch (err) {
            ctx.toast(`Unlock ${accountId}: ${err.message}`, "error");
            button.disabled = false;
          }
        },
      },
    });
    return h("div", { class: "toolbar" }, reason, button);
  }

  function paintLockouts(items) {
    ctx.clear(lockoutsBody);
    if (!items.length) lockoutsBody.append(h("tr", {}, h("td", { colspan: 5, class: "muted", text: "No active lockout." })));
    for (const l of items) {
      lockoutsBody.append(
        h(
          "tr",
          { "data-testid": "risk-lockout" },
          h("td", { text: l.account_id }),
          h("td", { class: "mono", text: l.rule }),
          h("td", { text: l.reason }),
          h("td", { class: "mono", text: fmt.time(l.start_at) }),
          h("td", { class: "mono", text: l.until_at ? `${l.until_kind} · ${fmt.time(l.until_at)}` : l.until_kind || "admin unlock" }),
        ),
      );
    }
  }

  function paintLog(items) {
    ctx.clear(logBody);
    if (!items.length) logBody.append(h("tr", {}, h("td", { colspan: 6, class: "muted", text: "Nothing logged yet." })));
    for (const line of items) {
      logBody.append(
        h(
          "tr",
          { "data-testid": "risk-log-line", "data-kind": line.kind },
          h("td", { class: "mono", text: fmt.time(line.timestamp) }),
          h("td", { text: line.account_id }),
          h("td", {}, h("span", { class: "badge", text: line.kind })),
          h("td", { class: "mono", text: line.rule || "" }),
          h("td", { text: [line.action, line.status].filter(Boolean).join(" · ") }),
          h("td", { text: line.message || "" }),
        ),
      );
    }
  }

  // Live: each risk event asks for one reload; a burst of events makes one reload.
  let timer = 0;
  let loading = false;
  const reload = () => {
    if (timer) return;
    timer = setTimeout(async () => {
      timer = 0;
      if (loading) return reload();
      loading = true;
      try {
        await load();
      } catch (err) {
        if (err.name !== "AbortError") ctx.toast(`Risk: ${err.message}`, "error");
      } finally {
        loading = false;
      }
    }, RELOAD_DELAY_MS);
  };
  const unsubscribe = ctx.ws.subscribe(["risk"], "*", (msg) => {
    if (msg.type === "event") reload();
  });

  try {
    await load();
  } catch (err) {
    if (err.name !== "AbortError") root.append(h("div", { class: "panel error", "data-testid": "risk-error", text: `Risk: ${err.message}` }));
  }
  return () => {
    unsubscribe();
    clearTimeout(timer);
  };
}
