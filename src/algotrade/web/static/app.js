// The dashboard shell: sign-in state, hash router, the page context (ctx), the WebSocket
// manager and its connection banner. Plain ES module, no build step: edit and reload.
//
// Page modules (static/pages/<name>.js) export
//   export async function render(root, ctx, params) { ...; return cleanup /* optional fn */ }
// and get this ctx:
//   ctx.api(path, {method, body, signal}) → Promise<json|null>; throws ApiError
//       {status, code, message, retryAfter} (same origin, session cookie, JSON body)
//   ctx.ws.subscribe(topics, botId, onMessage) → unsubscribe(); onMessage gets the raw server
//       message {type: "snapshot"|"event"|"error", topic, bot_id, data}. Each listener gets its
//       own snapshot first, and a fresh one after every reconnect (treat a snapshot as "replace
//       what you have"). Call the unsubscribe function in your cleanup.
//   ctx.role ("admin"|"trader"), ctx.canWrite (bool), ctx.authEnabled (bool)
//   ctx.h(tag, attrs, ...children) → HTMLElement; attrs: class (string or array), text,
//       on: {click: fn}, style: {…}, data-*/aria-*/any attribute, value/checked/disabled props
//   ctx.clear(el); ctx.fmt.money(str), .price(str), .qty(str), .num(x, decimals), .time(iso), .age(iso),
//       .sign(str) → "pos"|"neg"|""
//   ctx.confirm(message) → Promise<bool>; ctx.toast(message, level "info"|"ok"|"warn"|"error")
//   ctx.navigate("#/bots/x"); ctx.plotly() → Promise<Plotly> (loads /ui/vendor/plotly.min.js once)
//   ctx.signal: an AbortSignal aborted when the page is left (pass it to ctx.api)
// Mutating controls render only when ctx.canWrite. Elements tests use carry data-testid.

import { ApiError, makeApi } from "./lib/api.js";
import { clear, confirmDialog, fmt, h, keepingFocus, toast } from "./lib/dom.js";
import { WsManager } from "./lib/ws.js";

const ROUTES = [
  { pattern: /^\/?$/, page: "overview", title: "Overview" },
  { pattern: /^\/bots\/?$/, page: "bots", title: "Bots" },
  { pattern: /^\/bots\/([^/]+)\/?$/, page: "bot", title: "Bot", keys: ["botId"] },
  { pattern: /^\/risk\/?$/, page: "risk", title: "Risk" },
  { pattern: /^\/venues\/?$/, page: "venues", title: "Venues" },
  { pattern: /^\/backtest\/?$/, page: "backtest", title: "Backtest" },
  { pattern: /^\/signin\/?$/, page: "signin", title: "Sign in", open: true },
];
const NAV = [
  ["#/", "Overview", "overview"],
  ["#/bots", "Bots", "bots"],
  ["#/risk", "Risk", "risk"],
  ["#/venues", "Venues", "venues"],
  ["#/backtest", "Backtest", "backtest"],
];

const session = { role: null, authEnabled: true, expiresAt: null };
let current = { cleanup: null, controller: null, seq: 0 };
let plotlyPromise = null;
let afterSignIn = "#/";

const api = makeApi(() => signedOut("Your session has ended: sign in again."));
const ws = new WsManager({
  url: `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`,
  onState: showConnection,
  onUnauthorized: () => signedOut("Your session has ended: sign in again."),
});

export const ctx = {
  api,
  ws,
  h,
  clear,
  keepingFocus,
  fmt,
  toast,
  confirm: (message) => confirmDialog(message),
  navigate: (hash) => {
    if (location.hash === hash) route();
    else location.hash = hash;
  },
  plotly: loadPlotly,
  get role() {
    return session.role;
  },
  get canWrite() {
    return session.role === "admin";
  },
  get authEnabled() {
    return session.authEnabled;
  },
  signal: null,
  /** Called by the sign-in page with the answer of POST /api/session. */
  signedIn(answer) {
    setSession(answer);
    ctx.navigate(afterSignIn && afterSignIn !== "#/signin" ? afterSignIn : "#/");
  },
  ApiError,
};

function loadPlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!plotlyPromise) {
    plotlyPromise = new Promise((resolve, reject) => {
      const script = h("script", { src: "/ui/vendor/plotly.min.js" });
      script.addEventListener("load", () => resolve(window.Plotly));
      script.addEventListener("error", () => {
        plotlyPromise = null;
        reject(new Error("the chart library could not be loaded"));
      });
      document.head.append(script);
    });
  }
  return plotlyPromise;
}

// -- session --------------------------------------------------------------------------------

function setSession(answer) {
  session.role = answer.role;
  session.authEnabled = answer.auth_enabled !== false;
  session.expiresAt = answer.expires_at || null;
  renderHeader();
  ws.start();
}

function signedOut(message) {
  const wasSignedIn = session.role !== null;
  session.role = null;
  ws.stop();
  renderHeader();
  if (!isSignInRoute()) afterSignIn = location.hash || "#/";
  if (wasSignedIn && message) toast(message, "warn");
  if (!isSignInRoute()) location.hash = "#/signin";
}

async function signOut() {
  try {
    await api("/api/session", { method: "DELETE" });
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) toast(`Sign-out: ${err.message}`, "error");
  }
  afterSignIn = "#/";
  signedOut(null);
}

function isSignInRoute() {
  return /^#\/signin\/?$/.test(location.hash);
}

// -- shell ----------------------------------------------------------------------------------

function renderHeader() {
  const nav = document.getElementById("nav");
  const who = document.getElementById("who");
  clear(nav);
  clear(who);
  if (!session.role) return;
  const active = matchRoute().route.page;
  for (const [href, label, page] of NAV) {
    const isActive = page === active || (page === "bots" && active === "bot");
    nav.append(h("a", { href, text: label, class: isActive ? "active" : null, "aria-current": isActive ? "page" : null, "data-testid": `nav-${page}` }));
  }
  who.append(
    h("span", { class: ["role", session.role], "data-testid": "role", title: "Your role", text: session.role }),
    session.authEnabled
      ? h("button", { class: "btn small", "data-testid": "signout", text: "Sign out", on: { click: signOut } })
      : h("span", { class: "muted", text: "(no API keys configured)" }),
  );
}

function showConnection(state, manager) {
  const banner = document.getElementById("conn-banner");
  if (!banner) return;
  // The same state again (every reconnect attempt reports "reconnecting"): keep the banner as
  // it is. Rebuilt on each attempt, its "Retry now" button was replaced under the pointer.
  if (banner.dataset.state === state && !banner.hidden && banner.childElementCount) return;
  clearInterval(showConnection.tick);
  banner.dataset.state = state;
  if (state === "connected" || state === "idle" || state === "connecting") {
    banner.hidden = true;
    return;
  }
  banner.hidden = false;
  clear(banner);
  if (state === "unauthorized") {
    banner.append(h("span", { text: "Disconnected: the session ended." }));
    return;
  }
  const text = h("span", { "data-testid": "conn-banner-text" });
  const update = () => {
    const wait = manager.retryAt ? Math.max(0, Math.ceil((manager.retryAt - Date.now()) / 1000)) : 0;
    text.textContent = manager.socket
      ? "Disconnected from the daemon: reconnecting…"
      : `Disconnected from the daemon: reconnecting in ${wait} s…`;
  };
  update();
  showConnection.tick = setInterval(update, 1000);
  banner.append(text, h("button", { class: "btn small", text: "Retry now", on: { click: () => manager.retryNow() } }));
}

// -- router ---------------------------------------------------------------------------------

function matchRoute() {
  const path = decodeURIComponent(location.hash.replace(/^#/, "")) || "/";
  for (const route of ROUTES) {
    const match = route.pattern.exec(path);
    if (match) {
      const params = {};
      (route.keys || []).forEach((key, i) => (params[key] = match[i + 1]));
      return { route, params };
    }
  }
  return { route: null, params: { path } };
}

async function route() {
  const seq = ++current.seq;
  const { route: found, params } = matchRoute();
  if (found && !found.open && !session.role) {
    afterSignIn = location.hash || "#/";
    location.hash = "#/signin";
    return;
  }
  if (found && found.page === "signin" && session.role) {
    location.hash = "#/";
    return;
  }
  leavePage();
  renderHeader();
  const root = document.getElementById("page");
  clear(root);
  document.title = `${found ? found.title : "Not found"} · algo-trade`;
  if (!found) {
    root.append(h("div", { class: "panel", "data-testid": "not-found" }, h("h1", { text: "Not found" }), h("p", { text: `No page at ${params.path}.` }), h("a", { href: "#/", text: "Overview" })));
    return;
  }
  root.dataset.page = found.page;
  const controller = new AbortController();
  current.controller = controller;
  ctx.signal = controller.signal;
  let cleanup = null;
  try {
    const module = await import(`./pages/${found.page}.js`);
    if (seq !== current.seq) return;
    cleanup = await module.render(root, ctx, params);
  } catch (err) {
    if (seq !== current.seq || (err && err.name === "AbortError")) return;
    console.error(err);
    root.append(h("div", { class: "panel error", "data-testid": "page-error", text: `This page failed: ${err.message || err}` }));
  }
  if (seq !== current.seq) {
    if (typeof cleanup === "function") cleanup(); // left while rendering
    return;
  }
  current.cleanup = typeof cleanup === "function" ? cleanup : null;
}

function leavePage() {
  if (current.controller) current.controller.abort();
  current.controller = null;
  if (current.cleanup) {
    try {
      current.cleanup();
    } catch (err) {
      console.error("page cleanup failed", err);
    }
  }
  current.cleanup = null;
}

// -- boot -----------------------------------------------------------------------------------

async function boot() {
  window.addEventListener("hashchange", route);
  try {
    setSession(await api("/api/session"));
  } catch (err) {
    if (!(err instanceof ApiError) || (err.status !== 401 && err.status !== 404)) {
      toast(`The daemon did not answer: ${err.message}`, "error");
    }
  }
  route();
}

boot();
