// The operators' dashboard: the config API's views, polled, and its control routes.
// One module, no build step, no dependencies. Whatever the API returns is written with
// textContent or as SVG attributes, never parsed as HTML. Every call goes through api().

const SESSION_KEY = "piyasa.dashboard.session"; // sessionStorage: {token, expires_at}
const FEED_EVERY_MS = 3000;
const PANELS_EVERY_MS = 10000;
const PAGE = 50;
const FAILURES = 20; // the newest failed, expired and dropped turns shown
const MINUTES = 60;
const SVG_NS = "http://www.w3.org/2000/svg";
const ACTIONS = [
  ["start", "Start", "running"],
  ["pause", "Pause", "paused"],
  ["stop", "Stop", "stopped"],
];
const POSITION_MARK = { bullish: "▲", bearish: "▼", neutral: "◆" };
const OUTCOME_KIND = { failed: "bad", dropped: "warn", expired: "muted" };

const state = {
  auth: null, // {kind: "bearer", token, expiresAt} | {kind: "key", key}
  me: null, // GET /auth/me
  chats: [], // GET /chat-states items
  bots: [], // GET /bot-states items
  names: new Map(), // bot id -> name, for the feed and the failures
  titles: new Map(), // chat id -> title, from the chats' pages seen
  selected: null, // chat id
  chatPager: pager(),
  botPager: pager(),
  wizardId: null, // kept until the wizard succeeds, so a retry completes the same fleet
  stops: [],
  expiry: null,
};

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- helpers

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function svg(tag, attributes, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function pill(text, kind) {
  return el("span", `pill ${kind}`, text);
}

function clock(iso) {
  if (!iso) return "–";
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

// The time of day for today's moments, with the date for older ones.
function moment(iso) {
  const at = new Date(iso);
  if (at.toDateString() === new Date().toDateString()) return clock(iso);
  return at.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

function ago(iso) {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 90) return `${seconds} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  return `${Math.round(seconds / 3600)} h ago`;
}

function seg(id) {
  return encodeURIComponent(id);
}

function randomId() {
  const bytes = crypto.getRandomValues(new Uint8Array(8)); // works outside secure contexts too
  return "dash-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function canWrite() {
  return !!state.me && state.me.role !== "viewer";
}

function row(cells) {
  const tr = el("tr");
  for (const cell of cells) {
    const td = el("td");
    if (cell instanceof Node) td.append(cell);
    else td.textContent = cell === null || cell === undefined ? "–" : String(cell);
    tr.append(td);
  }
  return tr;
}

function emptyRow(tbody, columns, text) {
  const td = el("td", "empty", text);
  td.colSpan = columns;
  const tr = el("tr");
  tr.append(td);
  tbody.replaceChildren(tr);
}

// A keyset pager: the cursors of the pages seen so far, and the next one.
function pager() {
  return { cursors: [null], at: 0, next: null };
}

function afterParam(p) {
  const cursor = p.cursors[p.at];
  return cursor ? `&after=${seg(cursor)}` : "";
}

function renderPager(node, p, reload) {
  node.replaceChildren();
  if (p.at === 0 && !p.next) return;
  const back = el("button", "button quiet", "‹ Previous");
  back.type = "button";
  back.disabled = p.at === 0;
  back.addEventListener("click", () => {
    p.at -= 1;
    reload();
  });
  const forward = el("button", "button quiet", "Next ›");
  forward.type = "button";
  forward.disabled = !p.next;
  forward.addEventListener("click", () => {
    p.cursors[p.at + 1] = p.next;
    p.at += 1;
    reload();
  });
  node.append(back, el("span", "muted", `page ${p.at + 1}`), forward);
}

// ---------------------------------------------------------------- the API

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const auth = state.auth;
  if (auth && auth.kind === "bearer") headers.Authorization = `Bearer ${auth.token}`;
  if (auth && auth.kind === "key") headers["X-API-Key"] = auth.key;
  const init = { method, headers, cache: "no-store", credentials: "omit" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const message = (data && data.message) || `${response.status} ${response.statusText}`;
    if (response.status === 401 && auth && state.auth === auth) signOut(`Signed out: ${message}`);
    throw new ApiError(response.status, message);
  }
  return data;
}

// ---------------------------------------------------------------- signing in and out

function showLogin(message) {
  $("app").hidden = true;
  $("login").hidden = false;
  const error = $("login-error");
  error.hidden = !message;
  error.textContent = message || "";
  $("password").value = "";
  $("otp").value = "";
  $("api-key").value = "";
}

function useTab(withKey) {
  $("tab-password").classList.toggle("active", !withKey);
  $("tab-key").classList.toggle("active", withKey);
  $("tab-password").setAttribute("aria-selected", String(!withKey));
  $("tab-key").setAttribute("aria-selected", String(withKey));
  $("with-password").hidden = withKey;
  $("with-key").hidden = !withKey;
}

async function signIn(event) {
  event.preventDefault();
  const button = $("sign-in");
  button.disabled = true;
  try {
    if (!$("with-key").hidden) {
      state.auth = { kind: "key", key: $("api-key").value.trim() };
    } else {
      const body = { username: $("username").value.trim(), password: $("password").value };
      const otp = $("otp").value.trim();
      if (otp) body.otp = otp;
      const token = await api("POST", "/auth/login", body);
      remember(token.access_token, token.expires_at);
    }
    await start();
  } catch (error) {
    state.auth = null;
    showLogin(error.message);
  } finally {
    button.disabled = false;
  }
}

function remember(token, expiresAt) {
  state.auth = { kind: "bearer", token, expiresAt: Date.parse(expiresAt) };
  sessionStorage.setItem(SESSION_KEY, JSON.stringify({ token, expires_at: expiresAt }));
}

function restore() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
    if (saved && Date.parse(saved.expires_at) > Date.now() + 5000) {
      remember(saved.token, saved.expires_at);
      return true;
    }
  } catch {
    // an unreadable entry is dropped below
  }
  sessionStorage.removeItem(SESSION_KEY);
  return false;
}

function signOut(message) {
  for (const stop of state.stops) stop();
  state.stops = [];
  clearTimeout(state.expiry);
  if (state.auth && state.auth.kind === "bearer" && !message) {
    // Ends the session on the server too (api() reads the token before its first await);
    // the page forgets the token either way.
    api("POST", "/auth/logout").catch(() => {});
  }
  state.auth = null;
  state.me = null;
  sessionStorage.removeItem(SESSION_KEY);
  showLogin(message);
}

async function start() {
  state.me = await api("GET", "/auth/me");
  $("login").hidden = true;
  $("app").hidden = false;
  $("me").textContent = `${state.me.username} · ${state.me.role}`;
  for (const node of document.querySelectorAll(".write")) node.hidden = !canWrite();
  if (state.auth.kind === "bearer") {
    const left = state.auth.expiresAt - Date.now();
    state.expiry = setTimeout(() => signOut("Your session ended; sign in again."), left);
  }
  state.selected = state.selected || decodeURIComponent(location.hash.slice(1)) || null;
  state.stops.push(every(PANELS_EVERY_MS, refreshPanels), every(FEED_EVERY_MS, loadFeed));
}

// Runs fn now and then every ms (not while the tab is hidden); returns a stop function.
function every(ms, fn) {
  let stopped = false;
  let timer = null;
  const tick = async () => {
    if (stopped) return;
    if (!document.hidden) await fn().catch(report);
    if (!stopped) timer = setTimeout(tick, ms);
  };
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

function report(error) {
  const status = $("status");
  status.classList.remove("live");
  status.classList.add("bad");
  status.textContent = error.message;
}

async function refreshPanels() {
  const results = await Promise.allSettled([
    loadFleet(),
    loadChats(),
    loadBots(),
    loadSystem(),
    loadErrors(),
    loadFailures(),
  ]);
  const failed = results.find((r) => r.status === "rejected");
  const status = $("status");
  status.classList.toggle("live", !failed);
  status.classList.toggle("bad", !!failed);
  status.textContent = failed ? failed.reason.message : `live · updated ${clock(new Date().toISOString())}`;
}

// ---------------------------------------------------------------- controls

function controls(current, act) {
  const box = document.createDocumentFragment();
  for (const [action, label, reached] of ACTIONS) {
    const button = el("button", `ctl ctl-${action}`, label);
    button.type = "button";
    button.disabled = current === reached;
    button.title = current === reached ? `already ${reached}` : `${label} (sets ${reached})`;
    button.addEventListener("click", async () => {
      const siblings = [...button.parentElement.querySelectorAll("button")];
      for (const b of siblings) b.disabled = true;
      try {
        await act(action);
      } catch (error) {
        for (const b of siblings) b.disabled = false;
        report(error); // stays up until the next refresh
        return;
      }
      await refreshPanels();
      renderFeedHead();
    });
    box.append(button);
  }
  return box;
}

async function loadFleet() {
  const fleet = await api("GET", "/control/fleet");
  const node = $("fleet-state");
  node.textContent = fleet.state;
  node.className = `state ${fleet.state}`;
  if (!canWrite()) return;
  $("fleet-controls").replaceChildren(
    controls(fleet.state, async (action) => {
      if (action === "stop" && !window.confirm("Stop the whole fleet?")) return;
      await api("POST", `/control/fleet/${action}?wait=projected`);
    }),
  );
}

// ---------------------------------------------------------------- chats and the chart

async function loadChats() {
  const p = state.chatPager;
  const page = await api("GET", `/chat-states?limit=${PAGE}&minutes=${MINUTES}${afterParam(p)}`);
  p.next = page.next;
  state.chats = page.items;
  if (state.titles.size > 5000) state.titles.clear();
  for (const item of page.items) state.titles.set(item.chat.id, item.chat.title);
  if (!state.selected && page.items.length) {
    state.selected = page.items[0].chat.id;
    loadFeed().catch(report);
  }
  renderChats();
  renderPager($("chat-pager"), p, () => loadChats().catch(report));
  renderFeedHead();
}

function renderChats() {
  const list = $("chat-list");
  list.replaceChildren();
  $("no-chats").hidden = state.chats.length > 0;
  for (const item of state.chats) {
    const chat = item.chat;
    const total = item.activity.bot.reduce((a, b) => a + b, 0) + item.activity.human.reduce((a, b) => a + b, 0);
    const button = el("button", "chat-item" + (chat.id === state.selected ? " active" : ""));
    button.type = "button";
    const text = el("div", "chat-item-text");
    const top = el("div", "chat-item-top");
    top.append(el("span", "chat-name", chat.title), el("span", `state small ${item.control}`, item.control));
    text.append(top, el("div", "muted small", `${chat.bot_ids.length} bots · ${total} msgs/h · ${chat.telegram_chat_id}`));
    button.append(text, sparkline(item.activity));
    button.addEventListener("click", () => select(chat.id));
    list.append(button);
  }
}

function select(chatId) {
  state.selected = chatId;
  history.replaceState(null, "", "#" + seg(chatId));
  renderChats();
  renderFeedHead();
  $("messages").replaceChildren();
  loadFeed().catch(report);
}

function sparkline(activity) {
  const values = activity.bot.map((v, i) => v + activity.human[i]);
  const max = Math.max(1, ...values);
  const width = 120;
  const height = 28;
  const step = width / values.length;
  const node = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "spark", role: "img" });
  node.append(svg("title", {}, "messages per minute, last hour"));
  values.forEach((v, i) => {
    if (!v) return;
    const h = Math.max(1.5, (v / max) * (height - 2));
    node.append(svg("rect", { x: i * step, y: height - h, width: Math.max(1, step - 0.4), height: h, class: "bar" }));
  });
  return node;
}

// Stacked bars: bots' and humans' messages per minute, oldest on the left.
function renderChart(item) {
  const figure = $("chart");
  figure.replaceChildren();
  if (!item) return;
  const { bot, human, since, bucket_s: bucket } = item.activity;
  const width = Math.max(320, Math.round(figure.clientWidth)); // drawn at the figure's size
  const height = 150;
  const left = 28;
  const bottom = 18;
  const plotW = width - left - 4;
  const plotH = height - bottom - 8;
  const peak = Math.max(...bot.map((v, i) => v + human[i]));
  const max = Math.max(2, peak + (peak % 2)); // even, so every gridline is a whole number
  const step = plotW / bot.length;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart-svg", role: "img" });
  chart.append(svg("title", {}, `Messages per minute in ${item.chat.title}, last ${bot.length} minutes`));
  for (const fraction of [0, 0.5, 1]) {
    const y = 8 + plotH * (1 - fraction);
    chart.append(svg("line", { x1: left, x2: width - 4, y1: y, y2: y, class: "grid-line" }));
    chart.append(svg("text", { x: left - 6, y: y + 4, class: "axis end" }, String(max * fraction)));
  }
  bot.forEach((b, i) => {
    const x = left + i * step + 0.5;
    const w = Math.max(1, step - 1);
    const minute = new Date(Date.parse(since) + i * bucket * 1000);
    let y = 8 + plotH;
    for (const [count, kind] of [[b, "bot"], [human[i], "human"]]) {
      if (!count) continue;
      const h = (count / max) * plotH;
      y -= h;
      const rect = svg("rect", { x, y, width: w, height: h, class: `bar ${kind}` });
      rect.append(svg("title", {}, `${clock(minute.toISOString())}: ${count} ${kind === "bot" ? "from bots" : "from humans"}`));
      chart.append(rect);
    }
  });
  const minutes = bot.length;
  const half = Math.floor(minutes / 2);
  chart.append(svg("text", { x: left, y: height - 4, class: "axis" }, `−${minutes} min`));
  chart.append(svg("text", { x: left + half * step, y: height - 4, class: "axis middle" }, `−${minutes - half} min`));
  chart.append(svg("text", { x: width - 4, y: height - 4, class: "axis end" }, "now"));
  const legend = el("figcaption", "legend");
  legend.append(el("span", "key bot", "bots"), el("span", "key human", "humans"));
  figure.append(chart, legend);
}

// ---------------------------------------------------------------- the live feed

function renderFeedHead() {
  const item = state.chats.find((c) => c.chat.id === state.selected);
  const box = $("chat-controls");
  if (!item) {
    $("feed-title").textContent = "Live feed";
    $("feed-sub").textContent = state.selected ? "This chat is not on this page." : "Pick a chat.";
    box.replaceChildren();
    renderChart(null);
    return;
  }
  $("feed-title").textContent = item.chat.title;
  const listener = item.chat.listener_bot_id ? ` · listener ${nameOf(item.chat.listener_bot_id)}` : "";
  $("feed-sub").textContent = `${item.control} · Telegram ${item.chat.telegram_chat_id}${listener}`;
  if (canWrite()) {
    const id = item.chat.id;
    box.replaceChildren(controls(item.control, (action) => api("POST", `/control/chats/${seg(id)}/${action}?wait=projected`)));
  }
  renderChart(item);
}

function nameOf(botId) {
  return state.names.get(botId) || botId;
}

async function learnNames(botIds) {
  const missing = [...new Set(botIds)].filter((id) => !state.names.has(id)).slice(0, 20);
  for (const id of missing) {
    try {
      const bot = await api("GET", `/bots/${seg(id)}`);
      state.names.set(id, bot.name);
    } catch (error) {
      if (error.status !== 404) throw error;
      state.names.set(id, `${id} (deleted)`);
    }
  }
  if (state.names.size > 5000) state.names.clear();
}

async function loadFeed() {
  const chatId = state.selected;
  const box = $("messages");
  if (!chatId) {
    box.replaceChildren(el("li", "empty", "No chat selected."));
    return;
  }
  const page = await api("GET", `/chats/${seg(chatId)}/messages?limit=${PAGE}`);
  if (chatId !== state.selected) return;
  await learnNames(page.items.filter((m) => m.bot_id).map((m) => m.bot_id));
  const nearEnd = box.scrollHeight - box.scrollTop - box.clientHeight < 60;
  box.replaceChildren();
  if (!page.items.length) box.append(el("li", "empty", "No messages yet."));
  for (const m of [...page.items].reverse()) {
    const item = el("li", `message ${m.kind}`);
    const head = el("div", "message-head");
    const who = m.kind === "bot" ? nameOf(m.bot_id) : m.erased ? "erased person" : m.sender_name || m.person_id;
    head.append(el("span", "sender", who));
    if (m.kind === "bot") head.append(pill("bot", "info"));
    if (m.reply_to_message_id) head.append(el("span", "muted small", `↩ #${m.reply_to_message_id}`));
    head.append(el("time", "muted small", clock(m.sent_at) + (m.edited_at ? " · edited" : "")));
    item.append(head, el("div", m.erased ? "text erased" : "text", m.erased ? "(erased)" : m.text));
    item.title = `#${m.telegram_message_id}`;
    box.append(item);
  }
  if (nearEnd) box.scrollTop = box.scrollHeight;
}

// ---------------------------------------------------------------- bots

async function loadBots() {
  const p = state.botPager;
  const page = await api("GET", `/bot-states?limit=${PAGE}${afterParam(p)}`);
  p.next = page.next;
  state.bots = page.items;
  for (const item of page.items) state.names.set(item.bot.id, item.bot.name);
  renderBots();
  renderPager($("bot-pager"), p, () => loadBots().catch(report));
}

const TOKEN_KIND = { verified: "good", invalid: "bad", unchecked: "muted" };

function renderBots() {
  const tbody = $("bots");
  const enabled = state.bots.filter((b) => b.bot.enabled).length;
  $("bots-sub").textContent = `${state.bots.length} on this page · ${enabled} enabled`;
  if (!state.bots.length) {
    emptyRow(tbody, 8, "No bots yet.");
    return;
  }
  tbody.replaceChildren();
  for (const item of state.bots) {
    const bot = item.bot;
    const name = el("div", "bot-name");
    name.append(el("strong", null, bot.name));
    if (bot.username) name.append(el("span", "muted small", ` @${bot.username}`));
    name.title = bot.id;
    const token = pill(bot.has_token ? item.telegram.token_check : "no token", TOKEN_KIND[item.telegram.token_check] || "muted");
    if (item.telegram.detail) token.title = item.telegram.detail;
    const stances = el("div", "stances");
    stances.append(el("span", "muted small", `${item.stances}${item.top_stances.length ? ":" : ""}`));
    for (const s of item.top_stances) {
      const chip = el("span", `stance ${s.position}`, `${POSITION_MARK[s.position] || ""} ${s.topic}`);
      chip.title = `${s.position}, strength ${s.strength.toFixed(2)}`;
      stances.append(chip);
    }
    const cells = [
      name,
      pill(bot.enabled ? "yes" : "no", bot.enabled ? "good" : "muted"),
      token,
      pill(item.can_hear_humans ? "yes" : "no", item.can_hear_humans ? "good" : "muted"),
      el("span", `state ${item.control}`, item.control),
      stances,
      item.holdings,
    ];
    if (canWrite()) {
      const box = el("span", "controls");
      box.append(controls(item.control, (action) => api("POST", `/control/bots/${seg(bot.id)}/${action}?wait=projected`)));
      cells.push(box);
    }
    tbody.append(row(cells));
  }
}

// ---------------------------------------------------------------- services, queues, errors

async function loadSystem() {
  const [beats, queues] = await Promise.all([api("GET", "/system/heartbeats"), api("GET", "/system/queues")]);
  const hb = $("heartbeats");
  if (!beats.length) emptyRow(hb, 6, "No service has reported yet.");
  else {
    hb.replaceChildren(
      ...beats.map((b) =>
        row([b.service, b.instance, b.version, pill(b.ready ? "ready" : "not ready", b.ready ? "good" : "bad"), b.lag, ago(b.at)]),
      ),
    );
  }
  $("streams").replaceChildren(
    ...queues.streams.map((s) => {
      const behind = s.projected === null ? null : s.last_sequence - s.projected;
      const projected = s.projected === null ? "–" : behind > 0 ? `${s.projected} (${behind} behind)` : String(s.projected);
      return row([s.stream, s.messages, s.last_sequence, projected]);
    }),
  );
  const consumers = $("consumers");
  if (!queues.consumers.length) emptyRow(consumers, 5, "No consumers.");
  else {
    consumers.replaceChildren(
      ...queues.consumers.map((c) => row([c.consumer, c.stream, c.pending, c.ack_pending, c.redelivered])),
    );
  }
  const parked = queues.streams.find((s) => s.stream.endsWith("_DEADLETTER"));
  const count = $("dead-letter-count");
  count.textContent = parked ? `${parked.messages} dead letters` : "–";
  count.classList.toggle("bad", !!parked && parked.messages > 0);
}

async function loadErrors() {
  const deaf = await api("GET", "/deaf-chats?limit=50");
  const list = $("deaf-chats");
  list.replaceChildren();
  if (!deaf.items.length) list.append(el("li", "muted", "Every chat hears its humans."));
  for (const chat of deaf.items) {
    const item = el("li");
    item.append(el("strong", null, chat.title), el("span", "muted", ` · ${chat.reason}`));
    list.append(item);
  }
  const allowed = canWrite();
  $("dead-letters-note").hidden = allowed;
  $("dead-letters-table").hidden = !allowed;
  if (!allowed) return;
  const letters = await api("GET", "/dead-letters?limit=50");
  const tbody = $("dead-letters");
  if (!letters.items.length) {
    emptyRow(tbody, 5, "None parked.");
    return;
  }
  tbody.replaceChildren(
    ...letters.items.map((d) => {
      const reason = el("span", null, d.reason || d.problem || "–");
      if (d.error) reason.title = d.error;
      return row([d.seq, d.consumer, reason, d.original_type, clock(d.parked_at)]);
    }),
  );
}

// Turns that never reached their chat: Telegram refused them, or a stage expired or dropped
// them. Chats and bots are named when the page knows them, else shown by id.
async function loadFailures() {
  const page = await api("GET", `/turn-failures?limit=${FAILURES}`);
  await learnNames(page.items.filter((f) => f.bot_id).map((f) => f.bot_id));
  const tbody = $("failures");
  if (!page.items.length) {
    emptyRow(tbody, 5, "Every turn reached its chat.");
    return;
  }
  tbody.replaceChildren(
    ...page.items.map((f) => {
      const when = el("time", "when", moment(f.at));
      when.dateTime = f.at;
      when.title = new Date(f.at).toLocaleString();
      const chat = f.chat_id ? el("span", null, state.titles.get(f.chat_id) || f.chat_id) : null;
      if (chat) chat.title = f.chat_id;
      const bot = f.bot_id ? el("span", null, nameOf(f.bot_id)) : null;
      if (bot) bot.title = f.bot_id;
      const outcome = el("span", "outcome");
      outcome.append(pill(f.outcome, OUTCOME_KIND[f.outcome] || "muted"), el("span", "muted small", ` ${f.stage}`));
      const why = el("span", "why", f.detail || f.reason || "–");
      if (f.detail && f.reason) why.append(el("span", "muted small", ` · ${f.reason}`));
      why.title = `turn ${f.turn_id}`;
      return row([when, chat, bot, outcome, why]);
    }),
  );
}

// ---------------------------------------------------------------- the wizard

function openWizard() {
  state.wizardId = state.wizardId || randomId();
  $("wizard-error").hidden = true;
  $("wizard").showModal();
}

async function runWizard(event) {
  event.preventDefault();
  const error = $("wizard-error");
  const chatId = Number($("wizard-chat").value.trim());
  if (!Number.isSafeInteger(chatId) || chatId === 0) {
    error.textContent = "The Telegram chat id is a whole number (groups are negative).";
    error.hidden = false;
    return;
  }
  const button = $("wizard-run");
  button.disabled = true;
  try {
    const body = { telegram_chat_id: chatId, title: $("wizard-title").value.trim(), language: $("wizard-language").value };
    const result = await api("POST", `/wizard/${seg(state.wizardId)}?wait=projected`, body);
    state.wizardId = null;
    $("wizard").close();
    await refreshPanels();
    select(result.chat_id);
  } catch (failure) {
    error.textContent = failure.message;
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------- wiring

$("login-form").addEventListener("submit", signIn);
$("tab-password").addEventListener("click", () => useTab(false));
$("tab-key").addEventListener("click", () => useTab(true));
$("sign-out").addEventListener("click", () => signOut());
$("open-wizard").addEventListener("click", openWizard);
$("wizard-form").addEventListener("submit", runWizard);
$("wizard-cancel").addEventListener("click", () => $("wizard").close());
window.addEventListener("resize", () => renderChart(state.chats.find((c) => c.chat.id === state.selected)));

if (restore()) start().catch((error) => showLogin(error.message));
else showLogin();
