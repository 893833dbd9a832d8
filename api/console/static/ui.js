// Small DOM and formatting helpers. Everything from the agent is inserted
// as text (textContent), never as HTML.

/** Creates an element: h("p", {class: "x"}, "text", child). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** document.getElementById, failing loudly when the page and script disagree. */
export function $(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing from the page`);
  return el;
}

/**
 * Updates the children of parent to children in place, keyed by data-key:
 * a child whose key and content are unchanged keeps its element, so a row the
 * cashier is pressing, hovering or has focused is not swapped under the
 * pointer because another row changed. Keyboard focus follows data-focus-key
 * when its element is re-created. An equal old element keeps its event
 * handlers, so the children's handlers must depend on their key only.
 */
export function updateChildrenKeyed(parent, children) {
  const active = document.activeElement;
  const focusKey = active && parent.contains(active) ? active.dataset.focusKey : undefined;
  const old = new Map();
  for (const el of parent.children) if (el.dataset.key !== undefined) old.set(el.dataset.key, el);
  const want = children.map((el) => {
    const was = old.get(el.dataset.key);
    return was && was.isEqualNode(el) ? was : el;
  });
  const keep = new Set(want);
  for (const el of [...parent.children]) if (!keep.has(el)) el.remove();
  want.forEach((el, i) => {
    if (parent.children[i] !== el) parent.insertBefore(el, parent.children[i] || null);
  });
  if (focusKey && !parent.contains(document.activeElement)) {
    const again = parent.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`);
    if (again) again.focus();
  }
}

const STATE_LABELS = {
  queued: "Queued",
  sending: "Sending",
  on_terminal: "On terminal",
  unknown: "Unknown",
  approved: "Approved",
  declined: "Declined",
  cancelled: "Cancelled",
  expired: "Expired",
  failed: "Failed",
};

const STATE_TONES = {
  queued: "progress",
  sending: "progress",
  on_terminal: "progress",
  unknown: "warn",
  approved: "ok",
  declined: "bad",
  failed: "bad",
  cancelled: "neutral",
  expired: "neutral",
};

const FINAL = new Set(["approved", "declined", "cancelled", "expired", "failed"]);

/** Reports whether a payment state is final. */
export function isFinal(state) {
  return FINAL.has(state);
}

/** A payment state as words. */
export function stateLabel(state) {
  return STATE_LABELS[state] || state;
}

/** A badge: coloured and labelled, never colour alone. */
export function badge(text, tone, extraClass) {
  return h("span", { class: `badge tone-${tone}${extraClass ? " " + extraClass : ""}` }, text);
}

/** The state badge of a payment. */
export function stateBadge(state) {
  return badge(stateLabel(state), STATE_TONES[state] || "neutral", "state-" + state);
}

const TYPE_LABELS = {
  sale: "Sale",
  refund: "Refund",
  void: "Void",
  preauth: "Pre-auth",
  completion: "Completion",
  cashback: "Cashback",
};

/** A payment type as words. */
export function typeLabel(type) {
  return TYPE_LABELS[type] || type;
}

/** An amount as received from the agent (a decimal string) with its currency. */
export function money(amount, currency) {
  if (amount === undefined || amount === null || amount === "") return "—";
  return currency ? `${amount} ${currency}` : String(amount);
}

/** "1 transaction", "3 transactions". */
export function countText(n) {
  return `${n} ${n === 1 ? "transaction" : "transactions"}`;
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const dateTimeFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "long" });

/** A <time> element: the time alone for today, date and time otherwise. */
export function when(iso) {
  if (!iso) return h("span", { class: "muted" }, "—");
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return h("span", {}, iso);
  const today = d.toDateString() === new Date().toDateString();
  return h("time", { datetime: iso, title: fullFmt.format(d) }, today ? timeFmt.format(d) : dateTimeFmt.format(d));
}

/** The time of day as text for today (HH:MM:SS in the browser's locale), date and time otherwise. */
export function clockText(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toDateString() === new Date().toDateString() ? timeFmt.format(d) : dateTimeFmt.format(d);
}

/** Date and time as text. */
export function whenText(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateTimeFmt.format(d);
}

/** A readable sentence from an RpcError or any error. */
export function errorText(err) {
  const msg = (err && err.message) || String(err);
  return msg.charAt(0).toUpperCase() + msg.slice(1);
}

/** Replaces the children of el, leaving out null, undefined and false (never the text "null"). */
export function setChildren(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
}

// Amounts stay decimal strings from the agent. The helpers below only
// rewrite or add them as text and integers (BigInt), never as floats.
const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

/** The number of decimals of a decimal string ("12.34" → 2, "500" → 0). */
export function scaleOf(amount) {
  const m = DECIMAL.exec(String(amount || ""));
  return m && m[3] ? m[3].length : 0;
}

/**
 * A decimal string written with scale decimals ("0" → "0.00" for 2), as
 * the agent writes its own amounts. Text that is not a decimal, or has more
 * decimals than scale, is returned unchanged.
 */
export function withScale(amount, scale) {
  const m = DECIMAL.exec(String(amount ?? ""));
  if (!m) return amount;
  const frac = m[3] || "";
  if (frac.length > scale) return amount;
  return m[1] + m[2] + (scale > 0 ? "." + frac.padEnd(scale, "0") : "");
}

/** Reports whether a decimal string is zero ("0.00", "-0", "0"). */
export function isZero(amount) {
  const m = DECIMAL.exec(String(amount ?? ""));
  return !!m && /^0+$/.test(m[2]) && /^0*$/.test(m[3] || "");
}

/** Reports whether a decimal string is below zero. */
export function isNegative(amount) {
  return String(amount ?? "").startsWith("-") && !isZero(amount);
}

/** The sum of two non-negative decimal strings, exactly (integer minor units). */
export function addAmounts(a, b) {
  const ma = DECIMAL.exec(String(a ?? "")), mb = DECIMAL.exec(String(b ?? ""));
  if (!ma || !mb || ma[1] || mb[1]) return a;
  const scale = Math.max(scaleOf(a), scaleOf(b));
  const minor = (m) => BigInt(m[2] + (m[3] || "").padEnd(scale, "0"));
  const digits = (minor(ma) + minor(mb)).toString().padStart(scale + 1, "0");
  return scale ? digits.slice(0, -scale) + "." + digits.slice(-scale) : digits;
}

/** The last four digits of a masked card number ("476173******0119" → "0119"), or "". */
export function last4(maskedPan) {
  const m = /(\d{4})$/.exec(maskedPan || "");
  return m ? m[1] : "";
}

const FIELD_WORDS = {
  amount: "Amount",
  orig_merchant_order_no: "Original payment",
  merchant_order_no: "Order number",
  via: "How to refund",
  query: "Search",
  from: "From",
  to: "To",
  terminal_sn: "Terminal",
  cursor: "Page",
  date: "Day",
  note: "Note",
};

/**
 * An agent's error in words: its message, with the field it names (the
 * message starts with it, "amount: …") said the way the page labels it.
 */
export function apiErrorText(err) {
  const msg = (err && err.message) || String(err);
  const field = err && err.data && err.data.field;
  if (field && msg.startsWith(field + ": ") && FIELD_WORDS[field]) {
    return `${FIELD_WORDS[field]}: ${msg.slice(field.length + 2)}`;
  }
  return errorText(err);
}
