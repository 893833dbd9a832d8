// posbridge store console: terminals, payments, batches, over the agent's
// JSON-RPC WebSocket API. No framework: plain DOM, state in one object.

import { RpcClient, tokenSendable, wsURL } from "./rpc.js";
import {
  $, h, updateChildrenKeyed, isFinal, stateBadge, badge, typeLabel, money, countText,
  when, whenText, errorText, stateLabel, clockText, setChildren, withScale, scaleOf, isZero, isNegative,
  addAmounts, last4, apiErrorText,
} from "./ui.js";

const TOKEN_KEY = "posbridge.token";
const HISTORY_LIMIT = 50;
const ALERTS_LIMIT = 100; // alert.list: the banner lists at most these
const ALERTS_FOLDED = 5; // shown before "Show all"
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
  filter: null, // the search the payment list shows (searchForm())
  next: "", // payment.search cursor of the next page ("" on the last)
  loaded: 0, // payments the pages so far brought
  history: [],
  paymentsReq: 0,
  day: null, // report.day shown under Day totals
  today: null, // the agent's date of today
  dayReq: 0,
  pay: null, // the payment detail dialog: {no, p, opener, mode, pending, created}
  alerts: new Map(), // merchant_order_no -> payment with an open alert (alert.list, then live)
  alertsOpen: 0, // how many payments have an open alert in all (alert.list's open, then live)
  alertsReq: 0,
  alertsSeen: null, // payments seen while alert.list runs: applied again to its answer
  alertsGone: new Map(), // merchant_order_no -> the payment whose alert left the banner (an older answer must not bring it back)
  alertsExpanded: false,
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
  $("store-name").textContent = state.info.store || "";
  $("store-name").hidden = !state.info.store;
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
  state.alerts.clear();
  state.alertsGone.clear();
  state.alertsOpen = 0;
  state.alertsSeen = null;
  state.alertsExpanded = false;
  renderAlerts();
  $("alerts-error").textContent = "";
  state.filter = null;
  state.next = "";
  state.loaded = 0;
  for (const id of ["search-q", "filter-from", "filter-to"]) $(id).value = "";
  $("payments-status").textContent = "";
  $("payments-error").textContent = "";
  state.history = [];
  state.lastSale = null;
  cardViews.clear();
  for (const t of batchTimers.values()) clearTimeout(t);
  batchTimers.clear();
  for (const d of [$("close-dialog"), $("report-dialog"), $("qr-dialog"), $("receipt-dialog"), $("payment-dialog")]) if (d.open) d.close();
  state.day = null;
  state.today = null;
  $("today-body").replaceChildren(h("p", { class: "empty" }, "Loading…"));
  $("today-date").value = "";
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
  await Promise.all([loadTerminals(), loadPayments(false), loadDay(chosenDay()), loadAlerts()]);
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

// The lines of a breakdown, in the order of a till slip.
const TYPE_LINES = {
  sale: "Sales",
  completion: "Completions",
  cashback: "Cashback sales",
  refund: "Refunds",
  void: "Voids",
  preauth: "Pre-authorisations (held)",
};
const TYPE_ORDER = ["sale", "completion", "cashback", "refund", "void", "preauth"];
// Approved, but never in the total (agent: BatchTotals.NotInTotal).
const OUTSIDE_TOTAL = new Set(["void", "preauth"]);

function typeOrder(a, b) {
  const ra = TYPE_ORDER.indexOf(a[0]), rb = TYPE_ORDER.indexOf(b[0]);
  return (ra < 0 ? 99 : ra) - (rb < 0 ? 99 : rb) || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
}

/**
 * The breakdown of totals (a batch's local totals, a day's) as a table that
 * adds up, as the agent counts it: each type in the total (refunds
 * negative), the tips, the cash given out with cashback sales, and the
 * total (in a day's totals, voids of earlier days' sales, negative); then,
 * apart, what was approved but is not in the total (voids: neither the
 * voided sale nor its void counts; pre-authorisations). Totals
 * stored by an older agent listed voids among the types and had no
 * cashback: their voids go apart too, and a note says the lines may not add
 * up. Null when there is nothing to list.
 */
function breakdownTable(t, caption) {
  if (!t) return null;
  const cur = t.currency;
  const inTotal = [];
  const outside = Object.entries(t.not_in_total || {});
  // An older agent listed voids and pre-authorisations among the types; now
  // a "void" type is the reversal of an earlier day's sale (day totals).
  const legacy = t.cashback === undefined;
  for (const [ty, v] of Object.entries(t.by_type || {})) (legacy && OUTSIDE_TOTAL.has(ty) ? outside : inTotal).push([ty, v]);
  inTotal.sort(typeOrder);
  outside.sort(typeOrder);
  const extra = [];
  if (t.tips && !isZero(t.tips)) extra.push(["tips", "Tips", t.tips]);
  if (t.cashback && !isZero(t.cashback)) extra.push(["cash", "Cash given out (cashback)", t.cashback]);
  if (!inTotal.length && !outside.length && !extra.length) return null;
  const amountCell = (amount) => h("td", { class: "num" + (isNegative(amount) ? " negative" : "") }, money(amount, cur));
  const line = (key, label, count, amount) =>
    h("tr", { class: "line-" + key }, h("th", { scope: "row" }, label), h("td", { class: "num" }, count), amountCell(amount));
  const old = legacy && (inTotal.length > 0 || outside.length > 0);
  return h(
    "table",
    { class: "bytype breakdown" },
    h("caption", { class: "visually-hidden" }, caption),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Line"), h("th", { scope: "col", class: "num" }, "Count"), h("th", { scope: "col", class: "num" }, "Amount"))),
    h(
      "tbody",
      {},
      inTotal.map(([ty, v]) => line(ty, ty === "void" ? "Voids of earlier days' sales" : TYPE_LINES[ty] || typeLabel(ty), v.count, v.amount)),
      extra.map(([key, label, amount]) => line(key, label, "", amount)),
    ),
    h("tbody", { class: "total" }, line("total", "Total", t.count, t.total_amount)),
    outside.length
      ? h(
          "tbody",
          { class: "outside" },
          h("tr", {}, h("th", { scope: "rowgroup", colspan: "3", class: "group" }, "Not in the total")),
          outside.map(([ty, v]) =>
            line(ty, ty === "void" ? "Voids (the voided sale is left out too)" : TYPE_LINES[ty] || typeLabel(ty), v.count, v.amount),
          ),
        )
      : null,
    old ? h("tbody", {}, h("tr", {}, h("td", { colspan: "3", class: "note" }, "Counted by an older posbridge: these lines may not add up to the total."))) : null,
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
    breakdownTable(b.local, `Open batch ${b.batch_no} of ${sn}: breakdown`) ||
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

// The search form as payment.search params (docs/websocket-api.md): no
// query and no dates is the live list, newest first; otherwise a search
// over the whole journal. Either pages with the agent's cursor.
function searchForm() {
  return {
    query: $("search-q").value.trim(),
    from: $("filter-from").value,
    to: $("filter-to").value,
    terminal: $("filter-terminal").value,
    state: $("filter-state").value,
    limit: Number($("page-size").value) || 50,
  };
}

function isSearch(f) {
  return !!f && !!(f.query || f.from || f.to);
}

/** Loads the first page of the form's search, or (more) the next page of the one shown. */
async function loadPayments(more) {
  const req = ++state.paymentsReq;
  const f = more && state.filter ? state.filter : searchForm();
  const params = { limit: f.limit };
  if (f.query) params.query = f.query;
  if (f.from) params.from = f.from;
  if (f.to) params.to = f.to;
  if (f.terminal) params.terminal_sn = f.terminal;
  if (f.state) params.state = f.state;
  if (more) params.cursor = state.next;
  $("payments-error").textContent = "";
  const btn = $("payments-more");
  btn.disabled = true;
  let res;
  try {
    res = await call("payment.search", params);
  } catch (e) {
    if (req !== state.paymentsReq) return;
    btn.disabled = false;
    $("payments-error").textContent = (isSearch(f) ? "Search refused: " : "Payments could not be loaded: ") + apiErrorText(e);
    return;
  }
  if (req !== state.paymentsReq) return;
  btn.disabled = false;
  const list = res.payments || [];
  if (!more) {
    state.filter = f;
    state.payments = new Map();
    state.loaded = 0;
  }
  for (const p of list) {
    const before = state.payments.get(p.merchant_order_no);
    if (!before || !olderThan(p, before)) state.payments.set(p.merchant_order_no, p);
  }
  state.loaded += list.length;
  state.next = res.next || "";
  renderPayments();
  if (isSearch(f) && !more) announce(listStatus());
}

// A call's answer can arrive after the notifications of later changes: keep
// the newest view of a payment. seq orders the states of a payment; without
// it, by updated_at, then by how far it got.
const STATE_RANK = { queued: 0, sending: 1, unknown: 2, on_terminal: 2 };
function rank(s) {
  return isFinal(s) ? 3 : (STATE_RANK[s] ?? 0);
}
function olderThan(p, before) {
  if (p.seq && before.seq) return p.seq < before.seq;
  if (isFinal(before.state) && !isFinal(p.state)) return true;
  const a = Date.parse(p.updated_at), b = Date.parse(before.updated_at);
  if (a !== b) return a < b;
  return rank(p.state) < rank(before.state);
}

function onPayment(p) {
  if (!p || !p.merchant_order_no) return;
  noteAlert(p);
  const before = state.payments.get(p.merchant_order_no);
  if (before && olderThan(p, before)) return;
  // A search shows what it found: its rows follow live, new payments join
  // only the live list (search again to see them).
  if (before || !isSearch(state.filter)) {
    state.payments.set(p.merchant_order_no, p);
    renderPaymentsSoon();
  }
  if (isFinal(p.state)) {
    scheduleBatch(p.terminal_sn);
    scheduleDay();
  }
  if (isFinal(p.state) && before && !isFinal(before.state)) {
    announce(`Payment ${p.merchant_order_no}: ${stateLabel(p.state)}, ${money(p.amount, p.currency)}`);
  }
  if (state.lastSale === p.merchant_order_no) showSaleProgress(p);
  if (state.qr && state.qr.no === p.merchant_order_no) renderQRState(p);
  if (state.pay) onPaymentForDialog(p);
}

// ---------------------------------------------------------------- alerts

// A payment's alert is something a person must act on (paid after it
// expired, approved after posbridge gave up on it, paid twice, an ECR result
// never acknowledged). It stays open until someone marks it handled
// (alert.handle); the banner lists the open ones (alert.list), kept live
// from payment.updated.

/** Reports whether p carries an alert nobody has marked handled yet. */
function openAlert(p) {
  return !!p && !!p.alert && !p.alert_handled_at;
}

/** Loads the open alerts (at start and on every (re)connect). */
async function loadAlerts() {
  const req = ++state.alertsReq;
  const gen = state.gen;
  const seen = [];
  state.alertsSeen = seen;
  let res;
  try {
    res = await call("alert.list", { limit: ALERTS_LIMIT });
  } catch (e) {
    if (req !== state.alertsReq || gen !== state.gen) return;
    state.alertsSeen = null;
    $("alerts-error").textContent = "The payments that need attention could not be loaded: " + apiErrorText(e);
    return;
  }
  if (req !== state.alertsReq || gen !== state.gen) return;
  state.alertsSeen = null;
  $("alerts-error").textContent = "";
  const list = res.payments || [];
  state.alerts = new Map(list.filter(openAlert).map((p) => [p.merchant_order_no, p]));
  state.alertsGone = new Map();
  state.alertsOpen = Math.max(Number(res.open) || 0, state.alerts.size);
  // Notifications that came while the list was on its way are newer than it, or the same.
  for (const p of seen) noteAlert(p);
  renderAlerts();
}

let alertsTimer = null;
/** Asks for the list again shortly: the count of alerts the banner does not list is the agent's. */
function reloadAlertsSoon() {
  clearTimeout(alertsTimer);
  alertsTimer = setTimeout(() => {
    if (state.client) loadAlerts().catch(() => {});
  }, 500);
}

/** Keeps the banner's alerts current with a payment seen live (payment.updated, an answer). */
function noteAlert(p) {
  if (state.alertsSeen) state.alertsSeen.push(p);
  const no = p.merchant_order_no;
  const had = state.alerts.get(no);
  if (had && olderThan(p, had)) return;
  const gone = state.alertsGone.get(no);
  if (gone && olderThan(p, gone)) return;
  const unlisted = state.alertsOpen > state.alerts.size; // open alerts beyond the banner's list
  if (openAlert(p)) {
    state.alerts.set(no, p);
    if (!had) {
      state.alertsOpen++;
      if (unlisted) reloadAlertsSoon(); // it may have been one of those: the agent counts
    }
  } else if (had) {
    state.alerts.delete(no);
    state.alertsGone.set(no, p);
    state.alertsOpen = Math.max(state.alerts.size, state.alertsOpen - 1);
  } else {
    if (p.alert && unlisted) reloadAlertsSoon();
    return;
  }
  renderAlertsSoon();
}

let alertsPending = false;
function renderAlertsSoon() {
  if (alertsPending) return;
  alertsPending = true;
  requestAnimationFrame(() => {
    alertsPending = false;
    renderAlerts();
  });
}

/** Sets an element's text only when it changes (a live region speaks each change). */
function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function needText(n) {
  return n === 1 ? "1 payment needs attention" : `${n} payments need attention`;
}

function renderAlerts() {
  const list = [...state.alerts.values()].sort((a, b) => (Date.parse(b.updated_at) || 0) - (Date.parse(a.updated_at) || 0));
  const n = Math.max(state.alertsOpen, list.length);
  const box = $("alerts");
  box.hidden = n === 0;
  if (n === 0) {
    setText($("alerts-count"), "");
    $("alerts-list").replaceChildren();
    return;
  }
  setText($("alerts-count"), needText(n));
  const folded = !state.alertsExpanded && list.length > ALERTS_FOLDED;
  const shown = folded ? list.slice(0, ALERTS_FOLDED) : list;
  updateChildrenKeyed($("alerts-list"), shown.map(alertItem));
  const more = $("alerts-more");
  more.hidden = list.length <= ALERTS_FOLDED;
  more.textContent = folded ? `Show all ${list.length}` : "Show fewer";
  more.setAttribute("aria-expanded", String(!folded));
  const unlisted = n - list.length;
  setText(
    $("alerts-unlisted"),
    unlisted > 0 ? `${unlisted} older ${unlisted === 1 ? "one is" : "ones are"} not listed here: mark these handled first, or search for them under Payments.` : "",
  );
}

function alertItem(p) {
  const no = p.merchant_order_no;
  const id = "alert-" + no;
  return h(
    "li",
    { class: "alert-item", dataset: { key: no, order: no } },
    h(
      "div",
      { class: "alert-body" },
      h(
        "p",
        { class: "alert-what", id: id + "-what" },
        h(
          "button",
          {
            type: "button",
            class: "link-btn mono open-alert",
            dataset: { focusKey: "alert-open-" + no },
            "aria-label": `Payment ${no}: details`,
            onclick: (ev) => openPayment(no, ev.currentTarget),
          },
          no,
        ),
        h("span", { class: "alert-amount" }, money(p.amount, p.currency)),
        h("span", { class: "alert-terminal" }, terminalText(p.terminal_sn)),
        h("span", { class: "alert-when" }, when(p.updated_at)),
      ),
      h("p", { class: "alert-text" }, p.alert),
    ),
    h(
      "button",
      {
        type: "button",
        class: "btn btn-secondary handle-alert",
        dataset: { focusKey: "alert-handle-" + no, order: no },
        "aria-describedby": id + "-what",
        onclick: (ev) => {
          openPayment(no, ev.currentTarget);
          if (state.pay && state.pay.no === no) askHandle();
        },
      },
      "Mark handled…",
    ),
  );
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

function listStatus() {
  const f = state.filter;
  const n = [...state.payments.values()].filter((p) => matchesFilter(p, f)).length;
  if (!isSearch(f)) {
    return `Latest payments, updated live: ${n} shown${state.next ? "; older ones below" : ""}.`;
  }
  const what = [];
  if (f.query) what.push(`“${f.query}”`);
  if (f.from && f.to) what.push(f.from === f.to ? `on ${f.from}` : `from ${f.from} to ${f.to}`);
  else if (f.from) what.push(`from ${f.from}`);
  else if (f.to) what.push(`up to ${f.to}`);
  const found = n === 1 ? "1 payment found" : `${n} payments found`;
  return `${found} for ${what.join(" ")}${state.next ? "; more below" : ""}. Clear the search to follow new payments live.`;
}

function matchesFilter(p, f) {
  return !f || ((!f.terminal || p.terminal_sn === f.terminal) && (!f.state || p.state === f.state));
}

function renderPayments() {
  const f = state.filter;
  const rows = [...state.payments.values()]
    .filter((p) => matchesFilter(p, f))
    .sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0));
  // Keep a long-running live page bounded: the pages asked for, and some.
  const keep = Math.max(state.loaded, f ? f.limit : 50) + 200;
  if (!isSearch(f) && state.payments.size > keep) {
    const kept = new Set(rows.slice(0, keep).map((p) => p.merchant_order_no));
    for (const k of state.payments.keys()) if (!kept.has(k)) state.payments.delete(k);
  }
  updateChildrenKeyed($("payment-rows"), rows.map(paymentRow));
  const empty = $("payments-empty");
  empty.hidden = rows.length > 0;
  empty.textContent = isSearch(f)
    ? "No payments match this search."
    : f && (f.terminal || f.state)
      ? "No payments match these filters."
      : "No payments yet.";
  const more = $("payments-more");
  more.hidden = !state.next;
  more.textContent = isSearch(f) ? "Show more results" : "Show older payments";
  $("payments-status").textContent = f ? listStatus() : "";
}

/** The line under a payment's state: its decline or failure reason, or its notice. */
function paymentDetail(p) {
  let detail = p.notice || (p.error && p.state !== "approved" ? p.error.message || p.error.code : "");
  if (waitingForCodePay(p) && !detail) {
    detail =
      p.state === "sending"
        ? "Being sent to CodePay, which does not answer; it goes on when CodePay answers."
        : "It may already be paid: do not take it again. The result comes when CodePay answers.";
  }
  return detail;
}

function paymentBadge(p) {
  if (waitingForCodePay(p)) return badge(paymentLabel(p), "warn", "state-" + p.state + " waiting-codepay");
  if (p.method && p.method !== "card" && p.state === "on_terminal") return badge("Waiting for customer", "progress", "state-on_terminal");
  return stateBadge(p.state);
}

/** A card as brand and masked number; on a narrow screen the last 4 digits only (console.css). */
function cardCell(card) {
  if (!card) return h("span", { class: "muted" }, "—");
  const l4 = last4(card.masked_pan);
  return h(
    "span",
    {},
    card.brand ? card.brand + " " : "",
    card.masked_pan ? h("span", { class: "mono pan-full" }, card.masked_pan) : null,
    l4 ? h("span", { class: "mono pan-short", "aria-hidden": "true" }, "…" + l4) : null,
  );
}

function paymentRow(p) {
  const no = p.merchant_order_no;
  const detail = paymentDetail(p);
  const alerted = openAlert(p);
  return h(
    "tr",
    { class: alerted ? "has-alert" : null, dataset: alerted ? { key: no, order: no, state: p.state, alert: "open" } : { key: no, order: no, state: p.state } },
    h("td", { class: "col-time" }, when(p.created_at)),
    h(
      "td",
      { class: "col-order" },
      alerted ? h("span", { class: "alert-mark", role: "img", "aria-label": "Needs attention", title: "Needs attention: " + p.alert }, "⚠") : null,
      h(
        "button",
        {
          type: "button",
          class: "link-btn mono open-payment",
          dataset: { focusKey: "pay-" + no },
          "aria-label": `Payment ${no}${alerted ? ", needs attention" : ""}: details, cancel, void or refund`,
          onclick: (ev) => openPayment(no, ev.currentTarget),
        },
        no,
      ),
      h("span", { class: "sub mono" }, p.terminal_sn),
    ),
    h("td", { class: "col-terminal mono" }, p.terminal_sn),
    h("td", { class: "col-type" }, typeLabel(p.type)),
    h("td", { class: "col-amount num amount" }, money(p.amount, p.currency)),
    h(
      "td",
      { class: "col-state state-cell" },
      paymentBadge(p),
      detail ? h("span", { class: "detail", title: detail }, detail) : null,
      hasQR(p)
        ? h("button", { type: "button", class: "btn btn-quiet btn-small show-qr", dataset: { focusKey: "qr-" + no }, onclick: () => openQR(no) }, "Show QR")
        : null,
      p.receipt_available
        ? h(
            "button",
            { type: "button", class: "btn btn-quiet btn-small show-receipt", dataset: { focusKey: "rc-" + no }, onclick: (ev) => openReceipt(no, ev.currentTarget) },
            "Receipt",
          )
        : null,
    ),
    h("td", { class: "col-tip num" }, p.tip_amount && !isZero(p.tip_amount) ? money(p.tip_amount, p.currency) : h("span", { class: "muted" }, "—")),
    h("td", { class: "col-card" }, cardCell(p.card)),
    h("td", { class: "col-auth mono" }, p.auth_code || h("span", { class: "muted" }, "—")),
    h("td", { class: "col-source" }, p.source || "—"),
  );
}

// ---------------------------------------------------------------- payment detail: cancel, void, refund

const PSEUDO_DESKS = { qrwallet: "QR wallet", idpay: "VA / QRIS", codepay_link: "Payment links", bindo_link: "Bindo payment links" };

/** A terminal (or a provider's pseudo-desk) in words: "Demo counter (DEMO000001)". */
function terminalText(sn) {
  if (PSEUDO_DESKS[sn]) return PSEUDO_DESKS[sn];
  const name = terminalName(sn);
  return name === sn ? sn : `${name} (${sn})`;
}

function cardBrand(p) {
  return p.card && p.card.brand ? p.card.brand + " " : "";
}

/** Where the money of p goes back to, in words. */
function payerText(p) {
  const l4 = p.card ? last4(p.card.masked_pan) : "";
  if (l4) return `the ${cardBrand(p)}card ending ${l4}`;
  if (p.card && p.card.brand) return `the ${p.card.brand} account it was paid with`;
  if (p.method === "qr") return "the wallet it was paid with";
  return "the customer";
}

/** A card read on the terminal (agent: localCard): refunded on the terminal. */
function paidByCard(p) {
  return !!(p.card && (p.card.masked_pan || p.card.entry_mode));
}

const CARD_METHOD = (p) => !p.method || p.method === "card";

function canCancel(p) {
  return (p.state === "queued" || p.state === "on_terminal") && CARD_METHOD(p) && p.route !== "bindo";
}
function canVoid(p) {
  return p.state === "approved" && ["sale", "completion", "cashback", "preauth"].includes(p.type) && CARD_METHOD(p);
}
function canRefund(p) {
  return p.state === "approved" && ["sale", "completion", "cashback"].includes(p.type) && (CARD_METHOD(p) || p.method === "qr");
}

/** Opens a payment's detail: every fact, and what the manager can do with it. */
function openPayment(no, opener) {
  // An alert's payment may be older than the payments listed.
  const listed = state.payments.get(no), alerted = state.alerts.get(no);
  const p = listed && alerted ? (olderThan(listed, alerted) ? alerted : listed) : listed || alerted;
  if (!p) return;
  state.pay = { no, p, opener, mode: "view", pending: null, created: null, attempt: null };
  $("pay-history").open = false;
  $("pay-history-list").replaceChildren();
  $("pay-history-status").textContent = "";
  $("pay-error").textContent = "";
  $("pay-status").textContent = "";
  $("pay-status").className = "form-status";
  renderPayment();
  const d = $("payment-dialog");
  if (!d.open) d.showModal();
  const first = $("pay-actions").querySelector("button");
  (first || $("pay-done")).focus();
  // The row may be a little behind: take the agent's view.
  call("payment.get", { merchant_order_no: no })
    .then((fresh) => onPayment(fresh))
    .catch(() => {});
}

function onPaymentForDialog(p) {
  const ps = state.pay;
  if (!ps) return;
  // The same payment again (the fresh copy openPayment asks for, a replay)
  // redraws nothing: a button about to be pressed stays the same button.
  if (p.merchant_order_no === ps.no && !olderThan(p, ps.p) && JSON.stringify(p) !== JSON.stringify(ps.p)) {
    ps.p = p;
    // Marked handled elsewhere (another console, the API) while being confirmed here.
    if (ps.mode === "confirm" && ps.pending && ps.pending.kind === "handle" && !openAlert(p) && !ps.busy) {
      ps.mode = "view";
      ps.pending = null;
      $("pay-status").className = "form-status form-ok";
      $("pay-status").textContent = "This alert was marked handled meanwhile.";
      renderPayment();
      ($("pay-actions").querySelector("button") || $("pay-done")).focus();
      loadPayHistory();
      return;
    }
    renderPayment();
    loadPayHistory();
  }
  if (ps.created && p.merchant_order_no === ps.created.merchant_order_no && !olderThan(p, ps.created)) {
    ps.created = p;
    showCreated();
  }
}

// ---------------------------------------------------------------- payment history

const HISTORY_KINDS = {
  created: "Accepted", notification: "Notification", query: "Query", error: "Error", revoke: "Cancel",
  late_check: "Late check", note: "Note", alert: "Alert",
};

/** Loads the open payment's history (payment.history) while its History section is open. */
function loadPayHistory() {
  const ps = state.pay;
  if (!ps || !$("pay-history").open) return;
  const no = ps.no;
  const asked = (ps.historyAsked = (ps.historyAsked || 0) + 1);
  if (!$("pay-history-list").children.length) $("pay-history-status").textContent = "Loading…";
  call("payment.history", { merchant_order_no: no })
    .then((h) => {
      if (state.pay !== ps || ps.historyAsked !== asked) return; // another payment, or a newer answer coming
      $("pay-history-status").textContent = h.omitted ? `${h.omitted === 1 ? "1 earlier event" : `${h.omitted} earlier events`} left out.` : "";
      updateChildrenKeyed($("pay-history-list"), h.events.map((e, i) => historyItem(e, i + h.omitted)));
    })
    .catch((err) => {
      if (state.pay === ps) $("pay-history-status").textContent = "The history could not be loaded: " + apiErrorText(err);
    });
}

function historyItem(e, n) {
  const change = e.kind === "state" && e.to_state ? (e.from_state && e.from_state !== e.to_state ? `${stateLabel(e.from_state)} → ${stateLabel(e.to_state)}` : stateLabel(e.to_state)) : null;
  return h(
    "li",
    { dataset: { key: String(n), kind: e.kind } },
    when(e.at),
    h("span", { class: "history-what" }, change || HISTORY_KINDS[e.kind] || e.kind),
    h("span", { class: "history-detail" }, e.detail),
  );
}

function fact(label, value, cls) {
  if (value === null || value === undefined || value === "") return null;
  return h("div", { class: cls }, h("dt", {}, label), h("dd", {}, value));
}

function renderPayment() {
  const ps = state.pay;
  const p = ps.p;
  $("pay-h").textContent = `${typeLabel(p.type)} ${p.merchant_order_no}`;
  const detail = paymentDetail(p);
  setChildren(
    $("pay-sub"),
    h("span", { class: "pay-amount" }, money(p.amount, p.currency)),
    " ",
    paymentBadge(p),
    detail ? h("p", { class: "pay-reason" }, detail) : null,
    p.alert
      ? h(
          "div",
          { class: "pay-alert-box" + (openAlert(p) ? " alert-open" : " alert-handled"), id: "pay-alert" },
          h("p", { class: "pay-reason pay-alert" }, h("strong", {}, openAlert(p) ? "Needs attention: " : "Alert: "), p.alert),
          p.alert_handled_at ? h("p", { class: "pay-alert-handled", id: "pay-alert-handled" }, `Handled at ${whenText(p.alert_handled_at)}`) : null,
        )
      : null,
  );
  const card = p.card
    ? [cardBrand(p), p.card.masked_pan ? h("span", { class: "mono" }, p.card.masked_pan) : null, p.card.entry_mode ? ` (${p.card.entry_mode})` : null]
    : null;
  setChildren(
    $("pay-facts"),
    fact("Time", whenText(p.created_at)),
    fact("Terminal", terminalText(p.terminal_sn)),
    fact("Amount", money(p.amount, p.currency)),
    p.tip_amount && !isZero(p.tip_amount) ? fact("Tip", money(p.tip_amount, p.currency)) : null,
    p.cashback_amount && !isZero(p.cashback_amount) ? fact("Cash given out", money(p.cashback_amount, p.currency)) : null,
    fact("Card", card),
    fact("Original payment", p.orig_merchant_order_no ? h("span", { class: "mono" }, p.orig_merchant_order_no) : null),
    fact("Auth code", p.auth_code ? h("span", { class: "mono" }, p.auth_code) : null),
    fact("Reference", p.ref_no ? h("span", { class: "mono" }, p.ref_no) : null),
    fact("Transaction", p.trans_no ? h("span", { class: "mono" }, p.trans_no) : null, "wide"),
    fact("Description", p.description, "wide"),
    fact("Source", p.source),
  );
  renderPayActions();
}

function actionButton(id, label, tone, onclick) {
  return h("button", { type: "button", class: `btn ${tone}`, id, onclick, disabled: state.pay.busy }, label);
}

function renderPayActions() {
  const ps = state.pay;
  const p = ps.p;
  const acts = $("pay-actions");
  acts.hidden = ps.mode !== "view";
  $("pay-refund").hidden = ps.mode !== "refund";
  $("pay-confirm").hidden = ps.mode !== "confirm";
  const buttons = [
    openAlert(p) ? actionButton("pay-handle", "Mark handled…", "btn-secondary", () => askHandle()) : null,
    canCancel(p) ? actionButton("pay-cancel", "Cancel payment", "btn-secondary", () => askCancel()) : null,
    canVoid(p) ? actionButton("pay-void", "Void", "btn-secondary", () => askVoid()) : null,
    canRefund(p) ? actionButton("pay-refund-open", "Refund…", "btn-secondary", () => openRefundForm()) : null,
    p.receipt_available ? actionButton("pay-receipt", "Receipt", "btn-quiet", (ev) => openReceipt(p.merchant_order_no, ev.currentTarget)) : null,
    hasQR(p) ? actionButton("pay-qr", "Show QR", "btn-quiet", () => openQR(p.merchant_order_no)) : null,
  ];
  const any = buttons.some((b) => b !== null);
  setChildren(acts, buttons, any ? null : h("p", { class: "muted" }, "Nothing can be done with this payment from here."));
}

/** A new order number for a console refund or void; kept while its request stays the same, so a repeat never does it twice. */
function actionOrderNo(kind, params) {
  const ps = state.pay;
  const key = kind + JSON.stringify(params);
  if (ps.attempt && ps.attempt.key === key) return ps.attempt.no;
  const no = (kind === "refund" ? "REFUND" : "VOID") + Date.now();
  ps.attempt = { key, no };
  return no;
}

function askCancel() {
  const p = state.pay.p;
  const where =
    p.state === "queued"
      ? `waiting in the queue of terminal ${terminalText(p.terminal_sn)}. It is taken out of the queue`
      : `waiting on terminal ${terminalText(p.terminal_sn)}. The order is withdrawn from the terminal at CodePay`;
  confirmAction(
    { kind: "cancel", label: "Cancel payment" },
    `Cancel ${p.merchant_order_no} of ${money(p.amount, p.currency)}, ${where}; nothing is charged. ` +
      "If the customer has already started paying on the terminal, posbridge refuses and says why.",
  );
}

function askHandle() {
  const p = state.pay.p;
  if (!openAlert(p)) return;
  $("handle-note").value = "";
  confirmAction(
    { kind: "handle", label: "Mark handled", tone: "btn-primary", note: true },
    `Mark the alert on ${p.merchant_order_no} (${money(p.amount, p.currency)}) handled, once you have acted on it. ` +
      "The alert stays on the payment; it is no longer listed as needing attention. Your note, if any, is kept in the payment's journal.",
  );
}

function askVoid() {
  const p = state.pay.p;
  const params = { merchant_order_no: "", type: "void", orig_merchant_order_no: p.merchant_order_no, source: "console" };
  params.merchant_order_no = actionOrderNo("void", params);
  const effect =
    p.type === "preauth"
      ? "once it is approved the amount held on the card is released."
      : "once it is approved the sale is reversed before settlement, the customer is not charged, and neither the sale nor the void counts in the batch total.";
  confirmAction(
    { kind: "void", label: "Confirm void", method: "payment.create", params },
    `Void ${p.merchant_order_no}: ${money(p.amount, p.currency)} ${p.type === "preauth" ? "held on" : "paid with"} ${payerText(p)}. ` +
      `The void (order ${params.merchant_order_no}) is sent to terminal ${terminalText(p.terminal_sn)}; ${effect}`,
  );
}

function openRefundForm() {
  const ps = state.pay;
  const p = ps.p;
  ps.mode = "refund";
  $("pay-error").textContent = "";
  $("refund-amount").value = p.tip_amount && !isZero(p.tip_amount) ? addAmounts(p.amount, p.tip_amount) : p.amount;
  $("refund-currency").textContent = p.currency;
  // CodePay's card payments are refunded on the terminal, with the card;
  // wallet payments through CodePay's cloud. QR wallet and Bindo payments
  // have one way only.
  const choose = p.route === "codepay" && CARD_METHOD(p);
  $("refund-via-field").hidden = !choose;
  $("refund-via").value = paidByCard(p) ? "terminal" : "cloud";
  refundHint();
  renderPayActions();
  $("refund-amount").focus();
  $("refund-amount").select();
}

function refundVia() {
  const p = state.pay.p;
  if (p.method === "qr") return "";
  if (p.route !== "codepay") return "terminal";
  return $("refund-via").value;
}

/** How the refund goes, in words; the same words as the confirmation. */
function refundHow(p, via) {
  if (p.method === "qr") return "through the QR wallet provider, which returns it to the wallet";
  if (via === "cloud") return "through CodePay's cloud: no terminal and no card are needed, and it cannot be cancelled once sent";
  return `on terminal ${terminalText(p.terminal_sn)}: the refund is queued there and the customer presents the card to receive it`;
}

function refundHint() {
  const p = state.pay.p;
  $("refund-hint").textContent =
    `At most what is left of ${money(addAmounts(p.amount, p.tip_amount && !isZero(p.tip_amount) ? p.tip_amount : "0"), p.currency)} after earlier refunds. ` +
    `The refund goes ${refundHow(p, refundVia())}.`;
}

function reviewRefund() {
  const p = state.pay.p;
  const amount = $("refund-amount").value.trim();
  $("pay-error").textContent = "";
  if (!/^\d+(\.\d+)?$/.test(amount) || isZero(amount)) {
    $("pay-error").textContent = "Enter the amount to refund as a number such as 5.00.";
    $("refund-amount").focus();
    return;
  }
  const via = refundVia();
  const params = { merchant_order_no: "", orig_merchant_order_no: p.merchant_order_no, amount, currency: p.currency, source: "console" };
  if (via) params.via = via;
  params.merchant_order_no = actionOrderNo("refund", params);
  confirmAction(
    { kind: "refund", label: "Confirm refund", method: "payment.refund", params, back: "refund" },
    `Refund ${money(amount, p.currency)} of ${p.merchant_order_no} to ${payerText(p)} ${refundHow(p, via)}. ` +
      `The refund is order ${params.merchant_order_no}.`,
  );
}

function confirmAction(pending, text) {
  const ps = state.pay;
  ps.pending = pending;
  ps.back = pending.back || "view";
  ps.mode = "confirm";
  $("pay-error").textContent = "";
  $("pay-confirm-text").textContent = text;
  $("pay-confirm-go").textContent = pending.label;
  $("pay-confirm-go").className = "btn " + (pending.tone || "btn-danger");
  $("handle-note-field").hidden = !pending.note;
  renderPayActions();
  // Marking handled asks for a note; every other confirmation starts on Back.
  (pending.note ? $("handle-note") : $("pay-confirm-back")).focus();
}

function confirmBack() {
  const ps = state.pay;
  ps.mode = ps.back || "view";
  ps.pending = null;
  renderPayActions();
  (ps.mode === "refund" ? $("refund-amount") : $("pay-actions").querySelector("button") || $("pay-done")).focus();
}

async function confirmGo() {
  const ps = state.pay;
  if (!ps || !ps.pending || ps.busy) return;
  const pending = ps.pending;
  const gen = state.gen;
  ps.busy = true;
  const go = $("pay-confirm-go"), back = $("pay-confirm-back"), note = $("handle-note");
  go.disabled = back.disabled = note.disabled = true;
  $("pay-error").textContent = "";
  $("pay-status").className = "form-status";
  $("pay-status").textContent = "Sending…";
  try {
    let res;
    if (pending.kind === "cancel") {
      res = await call("payment.cancel", { merchant_order_no: ps.no, source: "console" });
    } else if (pending.kind === "handle") {
      const params = { merchant_order_no: ps.no, source: "console" };
      if (note.value.trim()) params.note = note.value.trim();
      res = await call("alert.handle", params);
    } else {
      res = await call(pending.method, pending.params);
    }
    if (gen !== state.gen || state.pay !== ps) return;
    ps.mode = "view";
    ps.pending = null;
    ps.attempt = null;
    if (pending.kind === "cancel") {
      onPayment(res);
      $("pay-status").className = "form-status form-ok";
      $("pay-status").textContent = `${ps.no} is cancelled; nothing was charged.`;
      announce(`${ps.no} cancelled`);
    } else if (pending.kind === "handle") {
      onPayment(res);
      $("pay-status").className = "form-status form-ok";
      $("pay-status").textContent = `The alert on ${ps.no} is marked handled; it stays on the payment.`;
      announce(`Alert on ${ps.no} marked handled`);
    } else {
      ps.created = res;
      onPayment(res);
      showCreated();
    }
  } catch (e) {
    if (gen !== state.gen || state.pay !== ps) return;
    // A refused note can be corrected where it was typed.
    ps.mode = pending.kind === "handle" ? "confirm" : ps.back || "view";
    $("pay-status").textContent = "";
    let msg = apiErrorText(e);
    if (e && e.code === 0) msg += ". It may or may not have reached the agent: confirming again is safe, it is never done twice.";
    $("pay-error").textContent = msg;
  } finally {
    ps.busy = false;
    go.disabled = back.disabled = note.disabled = false;
    if (state.pay === ps) {
      renderPayActions();
      if (ps.mode === "refund") $("refund-amount").focus();
      else if (ps.mode === "confirm") (pending.note ? note : back).focus();
      else ($("pay-actions").querySelector("button:not(:disabled)") || $("pay-done")).focus();
    }
  }
}

/** The refund or void the console created, as it goes. */
function showCreated() {
  const c = state.pay.created;
  const el = $("pay-status");
  const what = `${typeLabel(c.type)} ${c.merchant_order_no} of ${money(c.amount, c.currency)}`;
  let text = `${what}: ${paymentLabel(c)}`;
  if (!isFinal(c.state)) {
    text += c.state === "queued" || c.state === "on_terminal" ? ` on terminal ${terminalText(c.terminal_sn)}.` : ".";
    if (c.type === "refund" && (c.state === "queued" || c.state === "on_terminal") && c.route !== "qrwallet") text += " The customer presents the card there.";
  } else {
    const why = c.state !== "approved" && c.error ? c.error.message || c.error.code : "";
    text += why ? `: ${why}.` : ".";
  }
  el.className = "form-status" + (c.state === "approved" ? " form-ok" : isFinal(c.state) ? " form-error" : "");
  el.textContent = text;
  if (isFinal(c.state)) announce(text);
}

// ---------------------------------------------------------------- day totals

/** The day the Day totals show: "" for today (the agent's), else the date picked. */
function chosenDay() {
  const v = $("today-date").value;
  return !v || v === state.today ? "" : v;
}

async function loadDay(date) {
  const req = ++state.dayReq;
  $("today-error").textContent = "";
  try {
    const r = await call("report.day", date ? { date } : {});
    if (req !== state.dayReq) return;
    if (!date) state.today = r.date;
    state.day = r;
    if ($("today-date").value !== r.date) $("today-date").value = r.date;
    renderDay();
  } catch (e) {
    if (req !== state.dayReq) return;
    $("today-error").textContent = "The day's totals could not be loaded: " + apiErrorText(e);
  }
}

let dayTimer = null;
/** Today's totals follow the payments: reloaded shortly after one ends. */
function scheduleDay() {
  if (!state.day || state.day.date !== state.today || chosenDay() !== "") return;
  clearTimeout(dayTimer);
  dayTimer = setTimeout(() => loadDay(""), 300);
}

// Today's totals are also reloaded every minute while shown, so that at
// midnight they move on to the new day by themselves.
setInterval(() => {
  if (state.client && state.day && state.day.date === state.today && chosenDay() === "") loadDay("");
}, 60000);

/** "Tuesday, 8 December 2026" for "2026-12-08", whatever the browser's time zone. */
function dayText(date) {
  const [y, m, d] = date.split("-").map(Number);
  return new Intl.DateTimeFormat(undefined, { dateStyle: "full" }).format(new Date(y, m - 1, d));
}

function totalsFacts(t) {
  return h(
    "dl",
    { class: "batch-totals day-totals" },
    h("div", {}, h("dt", {}, "Transactions"), h("dd", { class: "day-count" }, t.count)),
    h("div", {}, h("dt", {}, "Total"), h("dd", { class: "day-total" }, money(t.total_amount, t.currency))),
    h("div", {}, h("dt", {}, "Tips"), h("dd", {}, money(t.tips, t.currency))),
    t.cashback && !isZero(t.cashback) ? h("div", {}, h("dt", {}, "Cash given out"), h("dd", {}, money(t.cashback, t.currency))) : null,
  );
}

/** A terminal or pseudo-desk as a row heading: its name, and its SN below. */
function deskCell(sn) {
  const name = terminalName(sn) !== sn ? terminalName(sn) : PSEUDO_DESKS[sn];
  return name ? h("th", { scope: "row" }, name, h("span", { class: "sub mono" }, sn)) : h("th", { scope: "row", class: "mono" }, sn);
}

function renderDay() {
  const r = state.day;
  const isToday = r.date === state.today;
  $("today-h").textContent = isToday ? "Today's totals" : `Totals of ${dayText(r.date)}`;
  const store = r.store || [];
  const terminals = r.terminals || [];
  const several = store.length > 1;
  const parts = [
    h("p", { class: "day-date" }, dayText(r.date), isToday ? h("span", { class: "muted no-print" }, " · updated live") : null),
    store.length === 0 ? h("p", { class: "empty" }, "No approved payments on this day.") : null,
    store.map((t) =>
      h(
        "section",
        { class: "day-store", "aria-label": several ? `Store totals in ${t.currency}` : "Store totals", dataset: { currency: t.currency } },
        h("h3", {}, several ? `Store, ${t.currency}` : "Store"),
        totalsFacts(t),
        breakdownTable(t, `Store totals of ${r.date}${several ? " in " + t.currency : ""}: breakdown`),
      ),
    ),
    terminals.length
      ? h(
          "section",
          { class: "day-terminals", "aria-labelledby": "day-terminals-h" },
          h("h3", { id: "day-terminals-h" }, "Per terminal"),
          h(
            "table",
            { class: "data day-table" },
            h("caption", { class: "visually-hidden" }, `Totals per terminal of ${r.date}`),
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                h("th", { scope: "col" }, "Terminal"),
                h("th", { scope: "col", class: "num" }, "Transactions"),
                h("th", { scope: "col", class: "num" }, "Total"),
                h("th", { scope: "col", class: "num" }, "Tips"),
                h("th", { scope: "col", class: "num" }, "Refunds"),
              ),
            ),
            h(
              "tbody",
              {},
              terminals.map(({ terminal_sn: sn, totals: t }) =>
                h(
                  "tr",
                  { dataset: { sn } },
                  deskCell(sn),
                  h("td", { class: "num" }, t.count),
                  h("td", { class: "num day-terminal-total" }, money(t.total_amount, t.currency)),
                  h("td", { class: "num" }, money(t.tips, t.currency)),
                  h(
                    "td",
                    { class: "num" },
                    t.by_type && t.by_type.refund ? money(t.by_type.refund.amount, t.currency) : h("span", { class: "muted" }, "—"),
                  ),
                ),
              ),
            ),
          ),
        )
      : null,
    h(
      "p",
      { class: "muted small" },
      `${r.payments === 1 ? "1 payment was" : `${r.payments} payments were`} started on this day in all, whatever their outcome. ` +
        "A payment counts on the day it was started (store PC time).",
    ),
  ];
  setChildren($("today-body"), parts);
}

// ---------------------------------------------------------------- printing

/** The heading of a printout: the store (when the agent names it), what, and when printed. */
function printHead(el, what) {
  setChildren(
    el,
    h("p", { class: "print-store" }, state.info.store || "posbridge"),
    h("p", { class: "print-what" }, what),
    h("p", { class: "print-when" }, `Printed ${whenText(new Date().toISOString())}${state.info.store ? " · posbridge" : ""}`),
  );
}

function printDay() {
  const r = state.day;
  if (!r) return;
  printHead($("today-print-head"), `Day totals of ${dayText(r.date)}`);
  document.body.classList.add("print-day");
  window.print();
}

function printReport() {
  const r = state.report;
  if (!r) return;
  printHead($("report-print-head"), `Batch report: batch ${r.batch_no} of ${terminalText(r.terminal_sn)}`);
  window.print();
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
  setChildren($("close-bytype"), breakdownTable(b.local, "Breakdown of the batch"));
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

/** The batch history's current record of batch r (r itself when it has left the list). */
function currentBatch(r) {
  return state.history.find((x) => x.terminal_sn === r.terminal_sn && x.batch_no === r.batch_no) || r;
}

function renderHistory() {
  const rows = state.history.map((r) => {
    const key = `hist-${r.terminal_sn}-${r.batch_no}`;
    const v = verdict(r);
    return h(
      "tr",
      { dataset: { key, sn: r.terminal_sn, batch: r.batch_no, state: r.state } },
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
            // The row may be kept across updates: report the batch as it is now.
            onclick: (ev) => openReport(currentBatch(r), false, ev.currentTarget),
          },
          `Batch ${r.batch_no}`,
        ),
      ),
      h("td", { class: "mono" }, r.terminal_sn),
      h("td", { class: "num" }, r.local.count),
      h("td", { class: "num" }, money(r.local.total_amount, r.local.currency)),
      h("td", {}, badge(v.short, v.tone)),
      h("td", { class: "col-opened" }, when(r.opened_at)),
      h("td", {}, when(r.closed_at)),
      h("td", { class: "col-closedby" }, r.closed_by ? closedByText(r.closed_by) : h("span", { class: "muted" }, "—")),
    );
  });
  updateChildrenKeyed($("history-rows"), rows);
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
  // CodePay's amount as the local one is written ("0" → "0.00").
  const cloudTotal = cloud && cloud.total_amount ? money(withScale(cloud.total_amount, scaleOf(r.local.total_amount)), cur) : "—";
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
    (() => {
      const t = breakdownTable(r.local, "Breakdown of the batch");
      return t
        ? h("div", { class: "report-bytype" }, h("h3", {}, "Breakdown"), t)
        : h("p", { class: "muted report-empty" }, "The batch holds no approved payments.");
    })(),
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
  // While the report is open the page prints the report alone (console.css).
  document.body.classList.add("report-open");
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
  for (const id of ["filter-terminal", "filter-state", "page-size"]) $(id).addEventListener("change", () => loadPayments(false));
  $("payment-filters").addEventListener("submit", (ev) => {
    ev.preventDefault();
    loadPayments(false);
  });
  $("search-clear").addEventListener("click", () => {
    for (const id of ["search-q", "filter-from", "filter-to"]) $(id).value = "";
    loadPayments(false);
    $("search-q").focus();
  });
  $("payments-more").addEventListener("click", () => loadPayments(true));
  $("today-date").addEventListener("change", () => loadDay(chosenDay()));
  $("today-now").addEventListener("click", () => {
    $("today-date").value = state.today || "";
    loadDay("");
  });
  $("today-form").addEventListener("submit", (ev) => ev.preventDefault());
  $("today-print").addEventListener("click", printDay);
  $("report-print").addEventListener("click", printReport);
  window.addEventListener("afterprint", () => document.body.classList.remove("print-day"));
  $("refund-review").addEventListener("click", reviewRefund);
  // Enter in the amount reviews the refund, on its keyup: moving the focus
  // to Back on keydown would let the same key press Back. Only an Enter
  // that went down here counts (not the one that opened the form).
  let amountEnter = false;
  $("refund-amount").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") {
      ev.preventDefault();
      amountEnter = true;
    }
  });
  $("refund-amount").addEventListener("keyup", (ev) => {
    if (ev.key === "Enter" && amountEnter) {
      amountEnter = false;
      reviewRefund();
    }
  });
  $("refund-amount").addEventListener("blur", () => {
    amountEnter = false;
  });
  $("refund-via").addEventListener("change", refundHint);
  $("refund-back").addEventListener("click", () => {
    state.pay.mode = "view";
    $("pay-error").textContent = "";
    renderPayActions();
    ($("pay-actions").querySelector("button") || $("pay-done")).focus();
  });
  $("pay-confirm-back").addEventListener("click", confirmBack);
  // Enter in the note marks the alert handled, on its keyup (as the refund amount).
  let noteEnter = false;
  $("handle-note").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") {
      ev.preventDefault();
      noteEnter = true;
    }
  });
  $("handle-note").addEventListener("keyup", (ev) => {
    if (ev.key === "Enter" && noteEnter) {
      noteEnter = false;
      confirmGo();
    }
  });
  $("handle-note").addEventListener("blur", () => {
    noteEnter = false;
  });
  $("alerts-more").addEventListener("click", () => {
    state.alertsExpanded = !state.alertsExpanded;
    renderAlerts();
  });
  $("pay-confirm-go").addEventListener("click", confirmGo);
  // The detail's form never submits (Enter in the amount would close it):
  // Close and Escape close the dialog.
  $("pay-form").addEventListener("submit", (ev) => ev.preventDefault());
  $("pay-done").addEventListener("click", () => $("payment-dialog").close());
  $("pay-history").addEventListener("toggle", () => loadPayHistory());
  $("payment-dialog").addEventListener("cancel", (ev) => {
    if (state.pay && state.pay.busy) ev.preventDefault();
  });
  $("payment-dialog").addEventListener("close", () => {
    const ps = state.pay;
    state.pay = null;
    if (!ps) return;
    let o = ps.opener;
    if (!(o && o.isConnected)) o = document.querySelector(`tr[data-order="${CSS.escape(ps.no)}"] button.open-payment`);
    // Opened from an alert marked handled meanwhile: the next alert, else the page.
    if (!(o && o.isConnected)) o = document.querySelector("#alerts-list button.handle-alert");
    if (o) o.focus();
    else $("main").focus({ preventScroll: true });
  });
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
    document.body.classList.remove("report-open");
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
