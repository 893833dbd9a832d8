// posbridge store console: terminals, payments, batches, over the agent's
// JSON-RPC WebSocket API. No framework: plain DOM, state in one object.

import { RpcClient, tokenSendable, wsURL } from "./rpc.js";
import {
  $, h, replaceChildrenKeepFocus, isFinal, stateBadge, badge, typeLabel, money, countText,
  when, whenText, errorText, stateLabel, clockText,
} from "./ui.js";

const TOKEN_KEY = "posbridge.token";
const PAYMENT_LIMIT = 100;
const HISTORY_LIMIT = 50;
const CLOSE_TIMEOUT_MS = 120000;

const state = {
  token: null,
  info: { demo: false },
  gen: 0, // bumps on sign-out: stale loops and answers drop out
  client: null,
  retryNow: null,
  terminals: new Map(), // sn -> terminal status
  codepay: null, // the agent's view of CodePay (the same on every terminal)
  batches: new Map(), // sn -> open batch report
  payments: new Map(), // merchant_order_no -> payment
  history: [],
  paymentsReq: 0,
  historyReq: 0,
  closeSN: null,
  closeBusy: false,
  report: null,
  lastSale: null,
};

const cardViews = new Map(); // sn -> {root, ...elements}
const batchTimers = new Map();

// ---------------------------------------------------------------- helpers

function announce(text) {
  const a = $("announcer");
  a.textContent = "";
  requestAnimationFrame(() => {
    a.textContent = text;
  });
}

function setConn(kind, text) {
  const c = $("conn");
  c.dataset.state = kind;
  $("app").dataset.conn = kind;
  $("conn-text").textContent = text;
  $("conn-retry").hidden = kind !== "reconnecting";
}

function terminalName(sn) {
  const t = state.terminals.get(sn);
  return t && t.name ? t.name : sn;
}

function call(method, params, timeoutMs) {
  if (!state.client) return Promise.reject(new Error("not connected to the agent"));
  return state.client.call(method, params, timeoutMs);
}

// ---------------------------------------------------------------- sign-in

async function probe(token) {
  try {
    const res = await fetch("/console/info", {
      headers: { Authorization: "Bearer " + token },
      cache: "no-store",
    });
    if (!res.ok) return { reachable: false };
    const info = await res.json();
    return { reachable: true, authorized: info.authorized !== false, info };
  } catch {
    return { reachable: false };
  }
}

async function signIn(token) {
  const err = $("signin-error");
  const btn = $("signin-btn");
  err.textContent = "";
  if (!token) {
    err.textContent = "Enter the access token.";
    $("token").focus();
    return;
  }
  if (!tokenSendable(token)) {
    err.textContent = "Token refused: it contains spaces or characters a browser cannot send.";
    $("token").focus();
    return;
  }
  btn.disabled = true;
  btn.textContent = "Signing in…";
  const p = await probe(token);
  btn.disabled = false;
  btn.textContent = "Sign in";
  if (!p.reachable) {
    err.textContent = "The agent did not answer. Check that posbridge is running, then try again.";
    return;
  }
  if (!p.authorized) {
    sessionStorage.removeItem(TOKEN_KEY);
    err.textContent = "Token refused";
    $("token").select();
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  startSession(token, p.info);
}

function startSession(token, info) {
  state.token = token;
  state.info = info || { demo: false };
  const gen = ++state.gen;
  $("token").value = "";
  $("signin").hidden = true;
  $("app").hidden = false;
  $("signout").hidden = false;
  $("test-sale").hidden = !state.info.demo;
  $("nav-test-sale").hidden = !state.info.demo;
  $("version").textContent = state.info.version ? state.info.version : "";
  $("main").focus({ preventScroll: true });
  connectLoop(gen);
}

function signOut(message) {
  state.gen++;
  sessionStorage.removeItem(TOKEN_KEY);
  if (state.client) state.client.close();
  if (state.retryNow) state.retryNow();
  state.client = null;
  state.token = null;
  state.terminals.clear();
  state.codepay = null;
  $("codepay-banner").hidden = true;
  state.batches.clear();
  state.payments.clear();
  state.history = [];
  state.lastSale = null;
  cardViews.clear();
  for (const t of batchTimers.values()) clearTimeout(t);
  batchTimers.clear();
  for (const d of [$("close-dialog"), $("report-dialog"), $("qr-dialog"), $("receipt-dialog")]) if (d.open) d.close();
  state.closeBusy = false;
  $("terminal-list").replaceChildren(h("p", { class: "empty" }, "Loading terminals…"));
  $("payment-rows").replaceChildren();
  $("history-rows").replaceChildren();
  $("sale-status").textContent = "";
  $("app").hidden = true;
  $("signout").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message || "";
  setConn("signed-out", "Signed out");
  $("token").focus();
}

// ---------------------------------------------------------------- connection

async function connectLoop(gen) {
  let attempt = 0;
  while (gen === state.gen) {
    setConn("connecting", attempt === 0 ? "Connecting…" : "Reconnecting…");
    const client = new RpcClient(wsURL(), state.token);
    client.addEventListener("notify", (e) => {
      if (client === state.client) onNotify(e.detail.method, e.detail.params);
    });
    const closed = new Promise((resolve) => client.addEventListener("close", resolve));
    let opened = false;
    try {
      await client.connect();
      opened = true;
    } catch {
      // Told apart below: refused token or agent away.
    }
    if (gen !== state.gen) {
      client.close();
      return;
    }
    if (opened) {
      state.client = client;
      attempt = 0;
      setConn("connected", "Connected");
      refreshAll().catch((e) => console.warn("refresh:", e));
      await closed;
      if (gen !== state.gen) return;
      state.client = null;
    }
    const p = await probe(state.token);
    if (gen !== state.gen) return;
    if (p.reachable && !p.authorized) {
      signOut("Token refused");
      return;
    }
    const delay = Math.min(30000, 1000 * 2 ** attempt) * (0.8 + Math.random() * 0.4);
    attempt++;
    await waitRetry(delay, gen);
  }
}

function waitRetry(delay, gen) {
  return new Promise((resolve) => {
    const until = Date.now() + delay;
    const tick = () => {
      const s = Math.max(1, Math.ceil((until - Date.now()) / 1000));
      setConn("reconnecting", `Connection lost. Reconnecting in ${s} s`);
    };
    tick();
    const iv = setInterval(tick, 1000);
    const done = () => {
      clearInterval(iv);
      clearTimeout(to);
      state.retryNow = null;
      resolve();
    };
    const to = setTimeout(done, delay);
    state.retryNow = done;
    if (gen !== state.gen) done();
  });
}

async function refreshAll() {
  state.historyLoaded = false;
  state.codepay = null; // the agent may have restarted: take its view afresh
  await call("events.subscribe", {});
  const loadTerminals = async () => {
    const tl = await call("terminal.list", {});
    setTerminals(tl.terminals || []);
    await Promise.all([...state.terminals.keys()].map((sn) => loadBatch(sn)));
  };
  await Promise.all([loadTerminals(), loadPayments()]);
  // After batch.get, so every terminal's open batch is in the list.
  await loadHistory();
  state.historyLoaded = true;
}

function onNotify(method, params) {
  switch (method) {
    case "payment.updated":
      onPayment(params);
      break;
    case "terminal.updated":
      if (params && params.sn) {
        const before = state.terminals.get(params.sn);
        state.terminals.set(params.sn, params);
        setCodePay(params.codepay);
        updateCard(params.sn);
        if (before && before.online_known && params.online_known && before.online !== params.online) {
          announce(`${terminalName(params.sn)} is ${params.online ? "online" : "offline"}`);
        }
      }
      break;
    case "batch.closed":
      if (params && params.terminal_sn) {
        loadBatch(params.terminal_sn);
        loadHistory();
        announce(`Batch ${params.batch_no} of ${params.terminal_sn} closed`);
      }
      break;
  }
}

// ---------------------------------------------------------------- CodePay reachability

// When each call last finished: the newer of two views wins (a call's answer
// can arrive after notifications of later changes).
function codepayTime(cp) {
  return Math.max(Date.parse(cp.last_success_at || "") || 0, Date.parse(cp.last_failure_at || "") || 0);
}

function setCodePay(cp) {
  if (!cp) return;
  const before = state.codepay;
  if (before && codepayTime(cp) < codepayTime(before)) return;
  state.codepay = cp;
  renderBanner();
  const was = before ? before.reachable : null;
  if (was === cp.reachable) return;
  for (const sn of state.terminals.keys()) updateCard(sn);
  renderPaymentsSoon();
  const sale = state.lastSale && state.payments.get(state.lastSale);
  if (sale) showSaleProgress(sale);
  if (was !== null && was !== undefined) {
    announce(cp.reachable ? "CodePay answers again" : "CodePay cannot be reached; payments are kept");
  }
}

function codepayDown() {
  return !!state.codepay && state.codepay.reachable === false;
}

function codepayBadge(cp) {
  if (!cp || cp.reachable === null || cp.reachable === undefined) return badge("CodePay not checked yet", "neutral", "codepay-state");
  if (cp.reachable) return badge("CodePay reachable", "ok", "codepay-state");
  return badge("CodePay unreachable", "warn", "codepay-state");
}

function renderBanner() {
  const cp = state.codepay;
  const down = codepayDown();
  $("codepay-banner").hidden = !down;
  if (!down) return;
  const n = cp.consecutive_failures;
  $("codepay-banner-text").textContent =
    `CodePay cannot be reached since ${clockText(cp.unreachable_since || cp.last_failure_at)} ` +
    `(${n} failed ${n === 1 ? "call" : "calls"} in a row). Every payment is kept: those still waiting go on ` +
    "as soon as CodePay answers, and none is charged twice.";
  const parts = [cp.last_success_at ? `Last answer from CodePay: ${clockText(cp.last_success_at)}.` : "No answer from CodePay since the agent started."];
  if (cp.last_error) parts.push(`Last error: ${cp.last_error}`);
  $("codepay-banner-detail").textContent = parts.join(" ");
}

// A payment handed to CodePay, or being confirmed with it, while CodePay
// cannot be reached waits for CodePay: say so rather than a bare "Sending".
function waitingForCodePay(p) {
  return codepayDown() && (p.state === "sending" || p.state === "unknown");
}

function paymentLabel(p) {
  return waitingForCodePay(p) ? "Waiting for CodePay" : stateLabel(p.state);
}

// ---------------------------------------------------------------- terminals and open batches

function setTerminals(list) {
  const sns = list.map((t) => t.sn).join(",");
  const same = sns === [...state.terminals.keys()].join(",") && cardViews.size === list.length;
  state.terminals = new Map(list.map((t) => [t.sn, t]));
  for (const t of list) setCodePay(t.codepay);
  if (!same) {
    cardViews.clear();
    const cards = list.map((t) => buildCard(t.sn));
    $("terminal-list").replaceChildren(
      ...(cards.length ? cards : [h("p", { class: "empty" }, "No terminals are configured.")]),
    );
  }
  for (const sn of state.terminals.keys()) updateCard(sn);
  fillTerminalSelects();
}

function buildCard(sn) {
  const id = "t-" + sn;
  const v = {};
  v.name = h("h3", { id: id + "-name" });
  v.meta = h("p", { class: "meta" });
  v.online = h("div", { class: "states" });
  v.activity = h("dd");
  v.queue = h("dd");
  v.current = h("dd");
  v.batchTitle = h("h4", { id: id + "-batch" }, "Open batch");
  v.batchBody = h("div", { class: "batch-body" }, h("p", { class: "muted" }, "Loading…"));
  v.closeBtn = h(
    "button",
    {
      type: "button",
      class: "btn btn-secondary close-batch",
      "aria-describedby": id + "-name",
      onclick: () => openCloseDialog(sn, v.closeBtn),
    },
    "Close batch",
  );
  v.root = h(
    "article",
    { class: "card terminal", "aria-labelledby": id + "-name", dataset: { sn } },
    h("div", { class: "card-head" }, h("div", {}, v.name, v.meta), v.online),
    h(
      "dl",
      { class: "facts" },
      h("div", {}, h("dt", {}, "Activity"), v.activity),
      h("div", {}, h("dt", {}, "Queue"), v.queue),
      h("div", { class: "wide" }, h("dt", {}, "Current payment"), v.current),
    ),
    h(
      "section",
      { class: "batch", "aria-labelledby": id + "-batch" },
      h("div", { class: "batch-head" }, v.batchTitle, v.closeBtn),
      v.batchBody,
    ),
  );
  cardViews.set(sn, v);
  return v.root;
}

function updateCard(sn) {
  const v = cardViews.get(sn);
  const t = state.terminals.get(sn);
  if (!v || !t) return;
  v.name.textContent = t.name || t.sn;
  v.meta.replaceChildren(
    h("span", { class: "mono" }, t.sn),
    h("span", { "aria-hidden": "true" }, " · "),
    `lane ${t.lane || "—"}`,
    t.currency ? h("span", { "aria-hidden": "true" }, " · ") : null,
    t.currency || null,
  );
  // While CodePay cannot be reached, the online state is only the last one it reported.
  const stale = codepayDown() ? " (last known)" : "";
  let online;
  if (!t.online_known) online = badge("Status unknown", "neutral", "online-state");
  else if (t.online) online = badge("Online" + stale, "ok", "online-state");
  else online = badge("Offline" + stale, "bad", "online-state");
  v.online.replaceChildren(online, codepayBadge(state.codepay));
  v.activity.replaceChildren(t.busy ? badge("Busy", "progress") : h("span", {}, "Idle"));
  v.queue.textContent = t.queue_depth ? `${t.queue_depth} waiting` : "Empty";
  v.current.replaceChildren(t.current_order_no ? h("span", { class: "mono" }, t.current_order_no) : h("span", { class: "muted" }, "None"));
  renderBatch(sn);
}

async function loadBatch(sn) {
  const gen = state.gen;
  try {
    const b = await call("batch.get", { terminal_sn: sn });
    if (gen !== state.gen) return;
    state.batches.set(sn, b);
    updateHistoryRow(b);
  } catch (e) {
    if (gen !== state.gen) return;
    state.batches.set(sn, { error: errorText(e) });
  }
  renderBatch(sn);
  if (state.closeSN === sn && $("close-dialog").open && !state.closeBusy) renderCloseDialog();
}

// updateHistoryRow keeps the open batch's row in Batch history current.
function updateHistoryRow(b) {
  const i = state.history.findIndex((r) => r.terminal_sn === b.terminal_sn && r.batch_no === b.batch_no);
  if (i >= 0) {
    state.history[i] = b;
    renderHistory();
  } else if (state.historyLoaded) {
    const f = $("history-terminal").value;
    if (!f || f === b.terminal_sn) loadHistory().catch(() => {});
  }
}

function scheduleBatch(sn) {
  clearTimeout(batchTimers.get(sn));
  batchTimers.set(
    sn,
    setTimeout(() => {
      batchTimers.delete(sn);
      loadBatch(sn);
    }, 200),
  );
}

function byTypeTable(byType, currency, caption) {
  const types = Object.keys(byType || {}).sort();
  if (!types.length) return null;
  return h(
    "table",
    { class: "bytype" },
    h("caption", { class: "visually-hidden" }, caption),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Type"), h("th", { scope: "col", class: "num" }, "Count"), h("th", { scope: "col", class: "num" }, "Amount"))),
    h(
      "tbody",
      {},
      types.map((ty) =>
        h("tr", {}, h("th", { scope: "row" }, typeLabel(ty)), h("td", { class: "num" }, byType[ty].count), h("td", { class: "num" }, money(byType[ty].amount, currency))),
      ),
    ),
  );
}

const METHOD_LABELS = { card: "Card", qr: "QR wallet", va: "VA / QRIS", link: "Payment link" };

/** Totals per payment method (present when a batch holds non-card payments). */
function byMethodTable(byMethod, currency) {
  const methods = Object.keys(byMethod || {}).sort();
  if (!methods.length) return null;
  return h(
    "table",
    { class: "bytype bymethod" },
    h("caption", { class: "visually-hidden" }, "Totals by payment method"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Method"), h("th", { scope: "col", class: "num" }, "Count"), h("th", { scope: "col", class: "num" }, "Amount"))),
    h(
      "tbody",
      {},
      methods.map((m) =>
        h("tr", {}, h("th", { scope: "row" }, METHOD_LABELS[m] || m), h("td", { class: "num" }, byMethod[m].count), h("td", { class: "num" }, money(byMethod[m].amount, currency))),
      ),
    ),
  );
}

function renderBatch(sn) {
  const v = cardViews.get(sn);
  if (!v) return;
  const b = state.batches.get(sn);
  if (!b) return;
  if (b.error) {
    v.batchTitle.textContent = "Open batch";
    v.batchBody.replaceChildren(h("p", { class: "form-error" }, b.error));
    return;
  }
  const cur = b.local.currency;
  v.batchTitle.textContent = b.state === "closing" ? `Batch ${b.batch_no} (closing)` : `Open batch ${b.batch_no}`;
  v.batchBody.replaceChildren(
    h(
      "dl",
      { class: "batch-totals" },
      h("div", {}, h("dt", {}, "Transactions"), h("dd", { class: "batch-count" }, b.local.count)),
      h("div", {}, h("dt", {}, "Total"), h("dd", { class: "batch-total" }, money(b.local.total_amount, cur))),
      h("div", {}, h("dt", {}, "Tips"), h("dd", {}, money(b.local.tips, cur))),
    ),
    byTypeTable(b.local.by_type, cur, `Open batch ${b.batch_no} of ${sn} by type`) ||
      h("p", { class: "muted small" }, `No approved payments since ${whenText(b.opened_at)}.`),
  );
}

function fillTerminalSelects() {
  const list = [...state.terminals.values()];
  for (const [id, withAll] of [["sale-terminal", false], ["filter-terminal", true], ["history-terminal", true]]) {
    const sel = $(id);
    const prev = sel.value;
    const opts = list.map((t) => h("option", { value: t.sn }, `${t.name || t.sn} (${t.sn})`));
    if (withAll) opts.unshift(h("option", { value: "" }, "All terminals"));
    sel.replaceChildren(...opts);
    if ([...sel.options].some((o) => o.value === prev)) sel.value = prev;
  }
  updateSaleCurrency();
}

// ---------------------------------------------------------------- payments

function paymentFilter() {
  return { terminal: $("filter-terminal").value, state: $("filter-state").value };
}

async function loadPayments() {
  const req = ++state.paymentsReq;
  const f = paymentFilter();
  const params = { limit: PAYMENT_LIMIT };
  if (f.terminal) params.terminal_sn = f.terminal;
  if (f.state) params.state = f.state;
  const res = await call("payment.list", params);
  if (req !== state.paymentsReq) return;
  state.payments = new Map((res.payments || []).map((p) => [p.merchant_order_no, p]));
  renderPayments();
}

// A call's answer can arrive after the notifications of later changes: keep
// the newest view of a payment (by updated_at, then by how far it got).
const STATE_RANK = { queued: 0, sending: 1, unknown: 2, on_terminal: 2 };
function rank(s) {
  return isFinal(s) ? 3 : (STATE_RANK[s] ?? 0);
}
function olderThan(p, before) {
  if (isFinal(before.state) && !isFinal(p.state)) return true;
  const a = Date.parse(p.updated_at), b = Date.parse(before.updated_at);
  if (a !== b) return a < b;
  return rank(p.state) < rank(before.state);
}

function onPayment(p) {
  if (!p || !p.merchant_order_no) return;
  const before = state.payments.get(p.merchant_order_no);
  if (before && olderThan(p, before)) return;
  state.payments.set(p.merchant_order_no, p);
  renderPaymentsSoon();
  if (isFinal(p.state)) scheduleBatch(p.terminal_sn);
  if (isFinal(p.state) && (!before || !isFinal(before.state))) {
    announce(`Payment ${p.merchant_order_no}: ${stateLabel(p.state)}, ${money(p.amount, p.currency)}`);
  }
  if (state.lastSale === p.merchant_order_no) showSaleProgress(p);
  if (state.qr && state.qr.no === p.merchant_order_no) renderQRState(p);
}

// ---------------------------------------------------------------- QR codes

/** A payment waiting for the customer to scan a code or open a payment page. */
function hasQR(p) {
  return Boolean(p.qr_payload || p.pay_url) && !isFinal(p.state);
}

/**
 * Shows a payment's QR code large (payment.qr renders it as SVG on the
 * agent), with its amount, a countdown to its expiry and its live state.
 * The SVG is shown as an image from a data: URL, never inserted as markup.
 */
async function openQR(no) {
  const d = $("qr-dialog");
  $("qr-error").textContent = "";
  $("qr-state").textContent = "";
  $("qr-code").replaceChildren();
  state.qr = { no, expiresAt: null };
  if (!d.open) d.showModal();
  try {
    const q = await call("payment.qr", { merchant_order_no: no });
    if (!state.qr || state.qr.no !== no) return;
    state.qr.expiresAt = q.expires_at ? new Date(q.expires_at) : null;
    $("qr-h").textContent = q.kind === "pay_url" ? "Scan to open the payment page" : "Scan to pay";
    $("qr-amount").textContent = `${money(q.amount, q.currency)} · ${no}`;
    $("qr-code").replaceChildren(
      h("img", { src: "data:image/svg+xml;base64," + btoa(q.svg), alt: `QR code to pay ${money(q.amount, q.currency)}`, class: "qr-img" }),
    );
    renderQRState(state.payments.get(no) || { state: q.state });
    tickQR();
  } catch (e) {
    $("qr-error").textContent = "The QR code could not be shown: " + errorText(e);
  }
}

function renderQRState(p) {
  const el = $("qr-state");
  if (isFinal(p.state)) {
    el.textContent = `${stateLabel(p.state)}.`;
    $("qr-code").classList.add("qr-done");
    $("qr-expiry").textContent = "";
    return;
  }
  $("qr-code").classList.remove("qr-done");
  el.textContent = "Waiting for the customer…";
}

function tickQR() {
  clearTimeout(state.qrTimer);
  const q = state.qr;
  if (!q || !$("qr-dialog").open) return;
  const p = state.payments.get(q.no);
  if (q.expiresAt && !(p && isFinal(p.state))) {
    const left = Math.max(0, Math.round((q.expiresAt - Date.now()) / 1000));
    $("qr-expiry").textContent =
      left > 0 ? `Expires in ${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}` : "Expired: the customer can no longer pay it.";
  }
  state.qrTimer = setTimeout(tickQR, 1000);
}

// ---------------------------------------------------------------- receipts

/**
 * Shows a final payment's receipt as the agent lays it out for a receipt
 * printer (payment.receipt), customer or merchant copy, at the chosen
 * paper width; Print prints the receipt alone (console.css, @media print).
 */
function openReceipt(no, opener) {
  const d = $("receipt-dialog");
  state.receipt = { no, req: 0 };
  state.receiptOpener = opener;
  $("receipt-copy-customer").checked = true;
  $("receipt-sub").textContent = `Payment ${no}`;
  $("receipt-text").textContent = "";
  $("receipt-error").textContent = "";
  document.body.classList.add("receipt-open");
  if (!d.open) d.showModal();
  loadReceipt();
}

async function loadReceipt() {
  const r = state.receipt;
  if (!r) return;
  const req = ++r.req;
  const copy = $("receipt-copy-merchant").checked ? "merchant" : "customer";
  const width = Number($("receipt-width").value);
  const pre = $("receipt-text");
  $("receipt-error").textContent = "";
  $("receipt-print").disabled = true;
  try {
    const res = await call("payment.receipt", { merchant_order_no: r.no, copy, width });
    if (state.receipt !== r || r.req !== req) return;
    pre.dataset.cols = String(res.width);
    pre.textContent = res.lines.join("\n");
    const f = res.fields;
    $("receipt-sub").textContent = `Payment ${r.no} · ${stateLabel(f.result)} · ${money(f.total_amount, f.currency)}`;
    $("receipt-print").disabled = false;
  } catch (e) {
    if (state.receipt !== r || r.req !== req) return;
    pre.textContent = "";
    $("receipt-error").textContent = "The receipt could not be shown: " + errorText(e);
  }
}

let renderPending = false;
function renderPaymentsSoon() {
  if (renderPending) return;
  renderPending = true;
  requestAnimationFrame(() => {
    renderPending = false;
    renderPayments();
  });
}

function renderPayments() {
  const f = paymentFilter();
  const rows = [...state.payments.values()]
    .filter((p) => (!f.terminal || p.terminal_sn === f.terminal) && (!f.state || p.state === f.state))
    .sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0))
    .slice(0, PAYMENT_LIMIT);
  // Keep the map bounded on a long-running page.
  if (state.payments.size > 4 * PAYMENT_LIMIT) {
    const keep = new Set(rows.map((p) => p.merchant_order_no));
    for (const k of state.payments.keys()) if (!keep.has(k)) state.payments.delete(k);
  }
  $("payment-rows").replaceChildren(...rows.map(paymentRow));
  $("payments-empty").hidden = rows.length > 0;
  $("payments-empty").textContent = f.terminal || f.state ? "No payments match these filters." : "No payments yet.";
}

function paymentRow(p) {
  const card = p.card
    ? h("span", {}, p.card.brand ? p.card.brand + " " : "", h("span", { class: "mono" }, p.card.masked_pan || ""))
    : h("span", { class: "muted" }, "—");
  const waiting = waitingForCodePay(p);
  let detail = p.notice || (p.error && p.state !== "approved" ? p.error.message || p.error.code : "");
  if (waiting && !detail) {
    detail =
      p.state === "sending"
        ? "Being sent to CodePay, which does not answer; it goes on when CodePay answers."
        : "It may already be paid: do not take it again. The result comes when CodePay answers.";
  }
  return h(
    "tr",
    { dataset: { order: p.merchant_order_no, state: p.state } },
    h("td", {}, when(p.created_at)),
    h("td", { class: "mono" }, p.merchant_order_no),
    h("td", { class: "mono" }, p.terminal_sn),
    h("td", {}, typeLabel(p.type)),
    h("td", { class: "num amount" }, money(p.amount, p.currency)),
    h(
      "td",
      { class: "state-cell" },
      waiting
        ? badge(paymentLabel(p), "warn", "state-" + p.state + " waiting-codepay")
        : p.method && p.method !== "card" && p.state === "on_terminal"
          ? badge("Waiting for customer", "progress", "state-on_terminal")
          : stateBadge(p.state),
      detail ? h("span", { class: "detail" }, detail) : null,
      hasQR(p)
        ? h("button", { type: "button", class: "btn btn-quiet btn-small show-qr", onclick: () => openQR(p.merchant_order_no) }, "Show QR")
        : null,
      p.receipt_available
        ? h(
            "button",
            { type: "button", class: "btn btn-quiet btn-small show-receipt", onclick: (ev) => openReceipt(p.merchant_order_no, ev.currentTarget) },
            "Receipt",
          )
        : null,
    ),
    h("td", { class: "num" }, p.tip_amount && !/^0*[.,]?0*$/.test(p.tip_amount) ? money(p.tip_amount, p.currency) : h("span", { class: "muted" }, "—")),
    h("td", {}, card),
    h("td", { class: "mono" }, p.auth_code || h("span", { class: "muted" }, "—")),
    h("td", {}, p.source || "—"),
  );
}

// ---------------------------------------------------------------- test sale (demo)

function updateSaleCurrency() {
  const t = state.terminals.get($("sale-terminal").value);
  $("sale-currency").textContent = t && t.currency ? t.currency : "";
  $("link-currency").textContent = linkCurrency();
}

async function submitSale(ev) {
  ev.preventDefault();
  const status = $("sale-status");
  const btn = $("sale-submit");
  const sn = $("sale-terminal").value;
  const amount = $("sale-amount").value.trim();
  const t = state.terminals.get(sn);
  status.className = "form-status";
  if (!t) {
    status.textContent = "Choose a terminal.";
    return;
  }
  if (!/^\d+(\.\d+)?$/.test(amount)) {
    status.className = "form-status form-error";
    status.textContent = "Enter the amount as a number such as 12.34.";
    $("sale-amount").focus();
    return;
  }
  const orderNo = "CONSOLE" + Date.now();
  btn.disabled = true;
  try {
    state.lastSale = orderNo;
    const p = await call("payment.create", {
      source: "console",
      merchant_order_no: orderNo,
      type: "sale",
      terminal_sn: sn,
      amount,
      currency: t.currency,
      description: "posbridge console test sale",
    });
    onPayment(p);
  } catch (e) {
    state.lastSale = null;
    status.className = "form-status form-error";
    status.textContent = "Test sale refused: " + errorText(e);
  } finally {
    btn.disabled = false;
  }
}

function showSaleProgress(p) {
  const status = $("sale-status");
  status.className = "form-status" + (p.state === "approved" ? " form-ok" : isFinal(p.state) ? " form-error" : "");
  let text = `Test sale ${p.merchant_order_no} of ${money(p.amount, p.currency)} on ${p.terminal_sn}: ${paymentLabel(p)}`;
  if (p.state === "approved" && p.auth_code) text += ` (auth code ${p.auth_code})`;
  else if (p.error && isFinal(p.state) && p.state !== "approved") text += ` (${p.error.message || p.error.code})`;
  else if (p.notice) text += ` (${p.notice})`;
  status.textContent = text + ".";
}

// ---------------------------------------------------------------- payment link

/** The currency of payment links: the first terminal's, as the agent uses. */
function linkCurrency() {
  const first = [...state.terminals.values()][0];
  return first && first.currency ? first.currency : "";
}

async function submitLink(ev) {
  ev.preventDefault();
  const status = $("link-status");
  const btn = $("link-submit");
  const amount = $("link-amount").value.trim();
  status.className = "form-status";
  if (!/^\d+(\.\d+)?$/.test(amount)) {
    status.className = "form-status form-error";
    status.textContent = "Enter the amount as a number such as 12.34.";
    $("link-amount").focus();
    return;
  }
  const orderNo = "LINK" + Date.now();
  btn.disabled = true;
  try {
    const p = await call("payment.create", {
      source: "console",
      merchant_order_no: orderNo,
      type: "sale",
      method: "link",
      amount,
      currency: linkCurrency(),
      description: $("link-description").value.trim() || "posbridge payment link",
    });
    onPayment(p);
    status.className = "form-status form-ok";
    status.textContent = `Link ${orderNo} for ${money(p.amount, p.currency)} created: ${p.pay_url || "(no URL)"}`;
    openQR(orderNo);
  } catch (e) {
    status.className = "form-status form-error";
    status.textContent = "Link refused: " + errorText(e);
  } finally {
    btn.disabled = false;
  }
}

// ---------------------------------------------------------------- close batch

function openCloseDialog(sn, opener) {
  const d = $("close-dialog");
  state.closeSN = sn;
  state.closeOpener = opener;
  $("close-error").textContent = "";
  $("close-progress").textContent = "";
  renderCloseDialog();
  d.showModal();
  $("close-cancel").focus();
  loadBatch(sn);
}

function renderCloseDialog() {
  const sn = state.closeSN;
  const b = state.batches.get(sn);
  const confirm = $("close-confirm");
  if (!b || b.error) {
    $("close-h").textContent = `Close the batch of ${terminalName(sn)}?`;
    $("close-desc").textContent = sn;
    $("close-totals").replaceChildren(h("div", {}, h("dt", {}, "Totals"), h("dd", {}, b && b.error ? b.error : "Loading…")));
    $("close-bytype").replaceChildren();
    confirm.disabled = !b || !!b.error;
    return;
  }
  const cur = b.local.currency;
  $("close-h").textContent = `Close batch ${b.batch_no} of ${terminalName(sn)}?`;
  $("close-desc").textContent = `Terminal ${sn}, open since ${whenText(b.opened_at)}.`;
  $("close-totals").replaceChildren(
    h("div", {}, h("dt", {}, "Transactions"), h("dd", { id: "close-count" }, countText(b.local.count))),
    h("div", {}, h("dt", {}, "Total"), h("dd", { id: "close-total" }, money(b.local.total_amount, cur))),
    h("div", {}, h("dt", {}, "Tips"), h("dd", {}, money(b.local.tips, cur))),
  );
  $("close-bytype").replaceChildren(byTypeTable(b.local.by_type, cur, "Totals by type") || "");
  confirm.disabled = state.closeBusy;
}

async function confirmClose() {
  if (state.closeBusy) return;
  const sn = state.closeSN;
  const gen = state.gen;
  const confirm = $("close-confirm");
  const cancel = $("close-cancel");
  state.closeBusy = true;
  confirm.disabled = true;
  cancel.disabled = true;
  $("close-dialog").setAttribute("aria-busy", "true");
  $("close-error").textContent = "";
  $("close-progress").textContent = "Closing the batch at CodePay…";
  try {
    const rep = await call("batch.close", { terminal_sn: sn, source: "console" }, CLOSE_TIMEOUT_MS);
    if (gen !== state.gen) return;
    state.closeBusy = false;
    $("close-dialog").close();
    loadBatch(sn);
    loadHistory();
    openReport(rep, true, state.closeOpener);
  } catch (e) {
    if (gen !== state.gen) return;
    let msg = errorText(e);
    if (e && e.code === 0) msg += ". The batch may or may not have closed: check Batch history before trying again.";
    $("close-error").textContent = msg;
  } finally {
    state.closeBusy = false;
    confirm.disabled = false;
    cancel.disabled = false;
    $("close-dialog").removeAttribute("aria-busy");
    $("close-progress").textContent = "";
  }
}

// ---------------------------------------------------------------- reports and history

async function loadHistory() {
  const req = ++state.historyReq;
  const sn = $("history-terminal").value;
  const params = { limit: HISTORY_LIMIT };
  if (sn) params.terminal_sn = sn;
  const res = await call("batch.list", params);
  if (req !== state.historyReq) return;
  state.history = res.batches || [];
  renderHistory();
}

const CLOSED_BY = { ws: "WebSocket API", cli: "command line", console: "console", ecr: "ECR" };

function closedByText(by) {
  return CLOSED_BY[by] || by;
}

// The three outcomes of a closed batch, in the words of the CLI and the
// CSV (agent.AgreeLine, agent.NotComparedLine).
const AGREE_TEXT = "Local and CodePay totals agree";
const NOT_COMPARED_TEXT = "CodePay returned no totals — not compared";

function isNote(d) {
  return d.startsWith("note: ");
}

// comparisonOf is the report's comparison; reports from an agent older
// than the field get it derived the way the agent derives stored ones.
function comparisonOf(r) {
  if (r.comparison) return r.comparison;
  const diffs = r.differences || [];
  if (!r.cloud || (r.cloud.count == null && !r.cloud.total_amount)) return "not_compared";
  return diffs.some((d) => !isNote(d)) ? "differ" : "agree";
}

function verdict(r) {
  if (r.state !== "closed") return { tone: "progress", short: r.state === "closing" ? "Closing" : "Open", long: "" };
  switch (comparisonOf(r)) {
    case "differ": {
      const n = (r.differences || []).filter((d) => !isNote(d)).length;
      return { tone: "warn", short: `${n} ${n === 1 ? "difference" : "differences"}`, long: "" };
    }
    case "not_compared":
      return { tone: "neutral", short: "Not compared", long: NOT_COMPARED_TEXT };
    default:
      return { tone: "ok", short: "Totals agree", long: AGREE_TEXT };
  }
}

function renderHistory() {
  const rows = state.history.map((r) => {
    const key = `hist-${r.terminal_sn}-${r.batch_no}`;
    const v = verdict(r);
    return h(
      "tr",
      { dataset: { sn: r.terminal_sn, batch: r.batch_no, state: r.state } },
      h(
        "td",
        {},
        h(
          "button",
          {
            type: "button",
            class: "link-btn view-batch",
            dataset: { focusKey: key },
            "aria-label": `Batch ${r.batch_no} of ${r.terminal_sn}: view report`,
            onclick: (ev) => openReport(r, false, ev.currentTarget),
          },
          `Batch ${r.batch_no}`,
        ),
      ),
      h("td", { class: "mono" }, r.terminal_sn),
      h("td", { class: "num" }, r.local.count),
      h("td", { class: "num" }, money(r.local.total_amount, r.local.currency)),
      h("td", {}, badge(v.short, v.tone)),
      h("td", {}, when(r.opened_at)),
      h("td", {}, when(r.closed_at)),
      h("td", {}, r.closed_by ? closedByText(r.closed_by) : h("span", { class: "muted" }, "—")),
    );
  });
  replaceChildrenKeepFocus($("history-rows"), rows);
  $("history-empty").hidden = rows.length > 0;
}

function openReport(r, justClosed, opener) {
  state.report = r;
  state.reportOpener = opener || null;
  const cur = r.local.currency;
  const v = verdict(r);
  $("report-h").textContent = justClosed
    ? `Batch ${r.batch_no} of ${r.terminal_sn} closed`
    : `Batch ${r.batch_no} of ${r.terminal_sn}`;
  $("report-sub").textContent =
    r.state === "closed"
      ? `${terminalName(r.terminal_sn)}. Opened ${whenText(r.opened_at)}, closed ${whenText(r.closed_at)}${r.closed_by ? " through the " + closedByText(r.closed_by) : ""}.`
      : `${terminalName(r.terminal_sn)}. Open since ${whenText(r.opened_at)}; totals so far.`;
  const cloud = r.cloud;
  const cloudCount = cloud && cloud.count !== null && cloud.count !== undefined ? String(cloud.count) : "—";
  const cloudTotal = cloud && cloud.total_amount ? money(cloud.total_amount, cur) : "—";
  let verdictBox;
  if (r.state !== "closed") {
    verdictBox = h("p", { class: "verdict tone-neutral" }, "The batch is still open: it is compared with CodePay when it closes.");
  } else if (comparisonOf(r) === "differ") {
    verdictBox = h(
      "div",
      { class: "verdict tone-warn", id: "report-verdict", dataset: { comparison: "differ" } },
      h("p", {}, h("strong", {}, "Local and CodePay totals differ:")),
      h("ul", {}, r.differences.map((d) => h("li", {}, d))),
    );
  } else {
    // Agree or not compared: the verdict, then any notes (Bindo payments).
    const notes = (r.differences || []).filter((d) => d !== NOT_COMPARED_TEXT);
    verdictBox = h(
      "div",
      { class: `verdict tone-${v.tone}`, id: "report-verdict", dataset: { comparison: comparisonOf(r) } },
      h("p", {}, v.long),
      notes.length ? h("ul", {}, notes.map((d) => h("li", {}, d))) : null,
    );
  }
  // replaceChildren would write a null child as the text "null": leave it out.
  const parts = [
    verdictBox,
    h(
      "table",
      { class: "data compare" },
      h("caption", { class: "visually-hidden" }, "Totals: posbridge and CodePay"),
      h("thead", {}, h("tr", {}, h("td", {}), h("th", { scope: "col", class: "num" }, "posbridge"), h("th", { scope: "col", class: "num" }, "CodePay"))),
      h(
        "tbody",
        {},
        h("tr", {}, h("th", { scope: "row" }, "Transactions"), h("td", { class: "num", id: "report-local-count" }, r.local.count), h("td", { class: "num" }, cloudCount)),
        h("tr", {}, h("th", { scope: "row" }, "Total"), h("td", { class: "num", id: "report-local-total" }, money(r.local.total_amount, cur)), h("td", { class: "num" }, cloudTotal)),
        h("tr", {}, h("th", { scope: "row" }, "Tips"), h("td", { class: "num" }, money(r.local.tips, cur)), h("td", { class: "num muted" }, "—")),
      ),
    ),
    r.cloud_settle_list
      ? h("div", { class: "report-settle" }, h("h3", {}, "CodePay settle list"), h("p", { class: "mono settle-list", id: "report-settle-list" }, r.cloud_settle_list))
      : null,
    byTypeTable(r.local.by_type, cur, "Totals by type")
      ? h("div", { class: "report-bytype" }, h("h3", {}, "By type"), byTypeTable(r.local.by_type, cur, "Totals by type"))
      : null,
    byMethodTable(r.local.by_method, cur)
      ? h("div", { class: "report-bymethod" }, h("h3", {}, "By payment method"), byMethodTable(r.local.by_method, cur))
      : null,
  ];
  $("report-body").replaceChildren(...parts.filter((p) => p !== null));
  $("report-error").textContent = "";
  $("report-status").textContent = "";
  const dl = $("report-download");
  dl.disabled = false;
  dl.textContent = "Download CSV";
  const d = $("report-dialog");
  if (!d.open) d.showModal();
  $("report-done").focus();
}

async function downloadCSV() {
  const r = state.report;
  if (!r) return;
  const btn = $("report-download");
  const err = $("report-error");
  const status = $("report-status");
  err.textContent = "";
  status.textContent = "";
  btn.disabled = true;
  btn.textContent = "Downloading…";
  const name = `posbridge-batch-${r.terminal_sn}-${r.batch_no}.csv`;
  try {
    const res = await fetch(`/console/batches/${encodeURIComponent(r.terminal_sn)}/${r.batch_no}.csv`, {
      headers: { Authorization: "Bearer " + state.token },
      cache: "no-store",
    });
    if (res.status === 401) {
      signOut("Token refused");
      return;
    }
    if (!res.ok) {
      err.textContent = `Download failed: ${(await res.text()).trim() || res.statusText}`;
      return;
    }
    const blob = await res.blob();
    const url = URL.createObjectURL(blob);
    const a = h("a", { href: url, download: name, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    status.textContent = `Saved ${name} to your downloads.`;
  } catch (e) {
    err.textContent = "Download failed: " + errorText(e);
  } finally {
    btn.disabled = false;
    btn.textContent = "Download CSV";
  }
}

// ---------------------------------------------------------------- wiring

function init() {
  $("signin-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    signIn($("token").value.trim());
  });
  $("signout").addEventListener("click", () => signOut(""));
  $("conn-retry").addEventListener("click", () => state.retryNow && state.retryNow());
  $("filter-terminal").addEventListener("change", () => loadPayments().catch(() => {}));
  $("filter-state").addEventListener("change", () => loadPayments().catch(() => {}));
  $("payment-filters").addEventListener("submit", (ev) => ev.preventDefault());
  $("history-terminal").addEventListener("change", () => loadHistory().catch(() => {}));
  $("history-filters").addEventListener("submit", (ev) => ev.preventDefault());
  $("sale-form").addEventListener("submit", submitSale);
  $("link-form").addEventListener("submit", submitLink);
  $("sale-terminal").addEventListener("change", updateSaleCurrency);
  $("close-confirm").addEventListener("click", confirmClose);
  $("close-cancel").addEventListener("click", () => $("close-dialog").close());
  $("close-dialog").addEventListener("cancel", (ev) => {
    if (state.closeBusy) ev.preventDefault();
  });
  $("close-dialog").addEventListener("close", () => {
    const o = state.closeOpener;
    if (o && o.isConnected && !$("report-dialog").open) o.focus();
  });
  $("report-download").addEventListener("click", downloadCSV);
  $("receipt-copy-customer").addEventListener("change", loadReceipt);
  $("receipt-copy-merchant").addEventListener("change", loadReceipt);
  $("receipt-width").addEventListener("change", loadReceipt);
  $("receipt-print").addEventListener("click", () => window.print());
  $("receipt-dialog").addEventListener("close", () => {
    document.body.classList.remove("receipt-open");
    const no = state.receipt && state.receipt.no;
    state.receipt = null;
    // The row may have been drawn again meanwhile: focus its new button.
    let o = state.receiptOpener;
    if (!(o && o.isConnected) && no) o = document.querySelector(`tr[data-order="${CSS.escape(no)}"] button.show-receipt`);
    if (o) o.focus();
  });
  $("qr-dialog").addEventListener("close", () => {
    clearTimeout(state.qrTimer);
    state.qr = null;
  });
  $("report-dialog").addEventListener("close", () => {
    const o = state.reportOpener;
    if (o && o.isConnected) o.focus();
  });

  fetch("/console/info", { cache: "no-store" })
    .then((res) => (res.ok ? res.json() : null))
    .then((info) => {
      if (info && info.version && !$("version").textContent) $("version").textContent = info.version;
    })
    .catch(() => {});

  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) {
    signIn(saved);
  } else {
    $("token").focus();
  }
}

init();
