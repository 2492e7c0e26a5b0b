// DOM and formatting helpers shared by every page (exposed as ctx.h, ctx.fmt, ctx.toast,
// ctx.confirm). No innerHTML anywhere: every value from the daemon becomes a text node, so a
// bot id or a log message can never inject markup.

const PROPS = new Set(["value", "checked", "disabled", "selected", "hidden", "readOnly"]);

/** h("button", {class: "btn", text: "Start", on: {click: fn}, "data-testid": "x"}, ...kids) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") el.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
      else if (key === "text") el.textContent = String(value);
      else if (key === "on") for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
      else if (key === "style") Object.assign(el.style, value); // CSSOM: allowed by the CSP
      else if (PROPS.has(key)) el[key] = value;
      else el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
}

// Runs paint(), then gives focus and caret back to the text field that had them, when paint()
// detached and re-inserted it (a page keeps such a field across live repaints): a detached
// element loses focus, and what the user typed next would go nowhere. Synchronous, so no
// keystroke can come in between.
export function keepingFocus(paint) {
  const active = document.activeElement;
  const field = active && (active.tagName === "INPUT" || active.tagName === "TEXTAREA") ? active : null;
  const caret = field ? [field.selectionStart, field.selectionEnd, field.selectionDirection] : null;
  paint();
  if (field && field.isConnected && document.activeElement !== field) {
    field.focus({ preventScroll: true });
    if (caret[0] !== null) field.setSelectionRange(...caret);
  }
}

// -- formatting -----------------------------------------------------------------------------
// Money arrives as exact decimal strings; it is formatted as text (never through a float) so
// the page shows exactly what the daemon booked.

function groupDigits(intPart) {
  return intPart.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** Round the decimal digits int.frac to `keep` decimals, half away from zero, as text. */
function roundDigits(intRaw, frac, keep) {
  const digits = (intRaw || "0") + frac.slice(0, keep);
  let out = digits;
  if (frac[keep] >= "5") {
    const arr = digits.split("");
    let i = arr.length - 1;
    while (i >= 0 && arr[i] === "9") arr[i--] = "0";
    if (i < 0) arr.unshift("1");
    else arr[i] = String(Number(arr[i]) + 1);
    out = arr.join("");
  }
  const cut = out.length - keep;
  return [out.slice(0, cut), out.slice(cut)];
}

function decimalText(value, minDecimals, maxDecimals) {
  if (value === null || value === undefined || value === "") return "—";
  const text = String(value).trim();
  const match = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE][+-]?\d+)?$/.exec(text);
  if (!match || /[eE]/.test(text)) {
    const n = Number(text);
    return Number.isFinite(n) ? n.toLocaleString("en-US", { maximumFractionDigits: maxDecimals }) : text;
  }
  const [, sign] = match;
  let [, , intRaw, fracRaw = ""] = match;
  let frac = fracRaw.replace(/0+$/, "");
  if (typeof maxDecimals === "function") maxDecimals = maxDecimals(intRaw);
  if (frac.length > maxDecimals) [intRaw, frac] = roundDigits(intRaw, frac, maxDecimals);
  frac = frac.replace(/0+$/, "").padEnd(minDecimals, "0");
  const intPart = groupDigits(intRaw.replace(/^0+(?=\d)/, "") || "0");
  const isZero = /^0*$/.test(intRaw + frac);
  return `${isZero ? "" : sign === "-" ? "-" : ""}${intPart}${frac ? `.${frac}` : ""}`;
}

export const fmt = {
  /** Money (equity, PnL, fees): "10003.2" → "10,003.20", "0.0006" → "0.00": to the cent, as
   * the terminal and the TUI show it. The exact value is what the API returns. */
  money(value) {
    return decimalText(value, 2, 2);
  },
  /** Prices: to the cent from 1 up; a price under 1 keeps up to 8 decimals (a 0.1234 coin). */
  price(value) {
    return decimalText(value, 2, (intRaw) => (/[1-9]/.test(intRaw) ? 2 : 8));
  },
  /** Quantities: as many decimals as given, no padding. */
  qty(value) {
    return decimalText(value, 0, 10);
  },
  num(value, decimals = 2) {
    if (value === null || value === undefined) return "—";
    const n = Number(value);
    return Number.isFinite(n) ? n.toLocaleString("en-US", { maximumFractionDigits: decimals }) : "—";
  },
  /** ISO → "2024-05-01 12:00:01Z" (UTC: the daemon's clock and the trading day are UTC). */
  time(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    return `${d.toISOString().slice(0, 19).replace("T", " ")}Z`;
  },
  /** ISO → "4s", "3m", "2h 5m", "3d" since then. */
  age(iso, now = Date.now()) {
    if (!iso) return "—";
    const t = new Date(iso).getTime();
    if (Number.isNaN(t)) return "—";
    const s = Math.max(0, Math.round((now - t) / 1000));
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m`;
    if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
    return `${Math.floor(s / 86400)}d`;
  },
  /** "pos" / "neg" / "" for colouring a signed decimal string. */
  sign(value) {
    if (value === null || value === undefined) return "";
    const text = String(value).trim();
    if (text.startsWith("-") && /[1-9]/.test(text)) return "neg";
    return /[1-9]/.test(text) ? "pos" : "";
  },
};

// -- toasts and confirmation --------------------------------------------------------------

export function toast(message, level = "info") {
  let box = document.getElementById("toasts");
  if (!box) {
    box = h("div", { id: "toasts", class: "toasts", "data-testid": "toasts", "aria-live": "polite" });
    document.body.append(box);
  }
  const item = h("div", { class: ["toast", level], role: level === "error" ? "alert" : "status", "data-testid": "toast", text: message });
  box.append(item);
  setTimeout(() => item.remove(), level === "error" ? 8000 : 4000);
}

/** A modal yes/no question; resolves true only when the user clicks the confirm button. */
export function confirmDialog(message, { okText = "Confirm", danger = true } = {}) {
  return new Promise((resolve) => {
    const dialog = h("dialog", { class: "confirm", "data-testid": "confirm-dialog" });
    const done = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    dialog.append(
      h("p", { text: message, "data-testid": "confirm-message" }),
      h(
        "div",
        { class: "actions" },
        h("button", { class: "btn", text: "Cancel", "data-testid": "confirm-cancel", on: { click: () => done(false) } }),
        h("button", { class: ["btn", danger && "danger"], text: okText, "data-testid": "confirm-ok", on: { click: () => done(true) } }),
      ),
    );
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault(); // Escape: answer "no" through the same path
      done(false);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
