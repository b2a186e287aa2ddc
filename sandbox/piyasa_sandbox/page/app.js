// The sandbox page: chats as a member sees them, live over server-sent events.
// Plain DOM code, no build step. Everything user-written goes through textContent.
"use strict";

const API = "/sandbox/api";
const COLORS = ["#e17076", "#7bc862", "#e5ca77", "#65aadd", "#a695e7", "#ee7aae", "#6ec9cb", "#faa774"];
const NAME_COLORS = ["#c03d33", "#4fad2d", "#d09306", "#168acd", "#8544d6", "#cd4073", "#2996ad", "#ce671b"];

const state = {
  chats: [],
  current: null,      // chat id
  view: null,         // GET /chats/{id}
  sender: null,       // user id posting from the page
  reply: null,        // {message_id, name, text, quote}
  extraSender: null,  // {id, name}: a person made here who has not posted yet
  typing: new Map(),  // user id -> {name, until}
  live: false,
};

const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function pick(list, id) {
  return list[Math.abs(Number(id)) % list.length];
}

function initials(name) {
  const parts = String(name || "?").trim().split(/\s+/);
  return (parts[0][0] + (parts.length > 1 ? parts[1][0] : "")).toUpperCase();
}

function avatar(id, name, small) {
  const node = el("div", small ? "avatar small" : "avatar", initials(name));
  node.style.background = pick(COLORS, id);
  return node;
}

async function getJSON(path) {
  const response = await fetch(API + path, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

function debounce(fn, ms) {
  let timer = null;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
}

// ---------------------------------------------------------------- chat list

async function loadChats() {
  state.chats = await getJSON("/chats");
  renderChats();
  const wanted = Number(location.hash.slice(1)) || null;
  const first = state.chats.find((c) => !c.migrated_to) || state.chats[0];
  if (state.current === null && (wanted || first)) {
    openChat(state.chats.some((c) => c.id === wanted) ? wanted : first.id);
  }
}

function renderChats() {
  const list = $("chats");
  list.replaceChildren();
  $("no-chats").hidden = state.chats.length > 0;
  for (const chat of state.chats) {
    const item = el("button", "chat-item" + (chat.id === state.current ? " active" : ""));
    item.type = "button";
    item.append(avatar(chat.id, chat.title));
    const text = el("div", "chat-item-text");
    const top = el("div", "chat-item-top");
    top.append(el("span", "chat-name", chat.title));
    top.append(el("span", "chat-kind", chat.migrated_to ? "upgraded" : chat.type));
    text.append(top);
    const last = chat.last_message;
    let preview = "No messages yet";
    if (last) preview = last.service || `${last.from ? last.from.name : ""}: ${last.text}`;
    text.append(el("div", "chat-preview", preview));
    item.append(text);
    item.addEventListener("click", () => openChat(chat.id));
    list.append(item);
  }
}

// ---------------------------------------------------------------- one chat

function openChat(id) {
  if (state.current !== id) {
    state.reply = null;
    state.typing.clear();
    renderReply();
  }
  state.current = id;
  history.replaceState(null, "", "#" + id);
  renderChats();
  refreshChat(true);
}

async function refreshChat(scrollToEnd) {
  if (state.current === null) return;
  const id = state.current;
  const view = await getJSON(`/chats/${id}?limit=300`);
  if (id !== state.current) return;
  state.view = view;
  const now = Date.now() / 1000;
  for (const t of view.typing_now) state.typing.set(t.user_id, { name: t.name, until: t.until });
  for (const [uid, t] of state.typing) {
    if (t.until <= now || !view.typing_now.some((x) => x.user_id === uid)) state.typing.delete(uid);
  }
  renderHeader(view);
  renderSenders(view);
  renderMessages(view, scrollToEnd);
  renderTyping();
}

function renderHeader(view) {
  $("chat-header").hidden = false;
  $("composer").hidden = !!view.chat.migrated_to;
  const chat = view.chat;
  $("chat-title").textContent = chat.title;
  const avatarNode = $("chat-avatar");
  avatarNode.textContent = initials(chat.title);
  avatarNode.style.background = pick(COLORS, chat.id);
  const present = view.members.filter((m) => !["left", "kicked"].includes(m.status));
  const bots = present.filter((m) => m.is_bot).length;
  let sub = `${chat.type} · ${present.length} members (${bots} bots) · id ${chat.id}`;
  if (chat.migrated_to) sub += ` · upgraded to ${chat.migrated_to}`;
  $("chat-sub").textContent = sub;
  const members = $("members");
  members.replaceChildren();
  for (const m of view.members) {
    let cls = "member";
    if (m.is_bot) cls += " bot";
    if (["administrator", "creator"].includes(m.status)) cls += " admin";
    if (["left", "kicked"].includes(m.status)) cls += " gone";
    const chip = el("span", cls, m.username ? "@" + m.username : m.name);
    let title = `${m.name} · ${m.status}`;
    if (m.is_bot) title += m.privacy_mode ? " · privacy on" : " · privacy off (hears everyone)";
    chip.title = title;
    members.append(chip);
  }
}

function renderSenders(view) {
  const select = $("sender");
  const humans = view.members.filter((m) => !m.is_bot && m.status !== "kicked");
  const keep = state.sender;
  select.replaceChildren();
  for (const h of humans) {
    const option = el("option", null, h.username ? `${h.name} (@${h.username})` : h.name);
    option.value = String(h.id);
    select.append(option);
  }
  const extra = state.extraSender;
  if (extra && !humans.some((h) => h.id === extra.id)) {
    const option = el("option", null, extra.name);
    option.value = String(extra.id);
    select.append(option);
    humans.push({ id: extra.id });
  }
  const guest = el("option", null, "new person…");
  guest.value = "";
  select.append(guest);
  if (keep !== null && humans.some((h) => h.id === keep)) select.value = String(keep);
  else if (humans.length) select.value = String(humans[0].id);
  else select.value = "";
  state.sender = select.value ? Number(select.value) : null;
}

// Telegram's entity offsets are UTF-16 code units: exactly JavaScript's string indices.
function renderText(text, entities) {
  const node = el("div", "text");
  let at = 0;
  const sorted = [...(entities || [])].sort((a, b) => a.offset - b.offset);
  for (const e of sorted) {
    if (e.offset < at) continue; // nested entities: the outer one is shown
    if (e.offset > at) node.append(document.createTextNode(text.slice(at, e.offset)));
    const span = el("span", "ent-" + e.type, text.slice(e.offset, e.offset + e.length));
    if (e.type === "text_link" && e.url) span.title = e.url;
    if (e.type === "text_mention" && e.user) span.title = `user ${e.user.id}`;
    node.append(span);
    at = e.offset + e.length;
  }
  if (at < text.length) node.append(document.createTextNode(text.slice(at)));
  return node;
}

function time(unix) {
  return new Date(unix * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function renderMessages(view, scrollToEnd) {
  const box = $("messages");
  const nearEnd = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  box.replaceChildren();
  if (!view.messages.length) box.append(el("div", "placeholder", "No messages here yet."));
  let previous = null;
  for (const m of view.messages) {
    if (m.service) {
      box.append(el("div", "service", m.service));
      previous = null;
      continue;
    }
    const fromId = m.from ? m.from.id : 0;
    const row = el("div", "row");
    row.dataset.id = m.message_id;
    if (fromId === state.sender) row.classList.add("out");
    if (previous === fromId) row.classList.add("cont");
    row.append(avatar(fromId, m.from ? m.from.name : "?", true));
    const bubble = el("div", "bubble");
    if (previous !== fromId && !row.classList.contains("out")) {
      const sender = el("div", "sender", m.from ? m.from.name : "Unknown");
      sender.style.color = pick(NAME_COLORS, fromId);
      if (m.from && m.from.is_bot) sender.append(el("span", "badge", "bot"));
      bubble.append(sender);
    }
    if (m.reply_to) bubble.append(renderReplyBlock(m));
    bubble.append(el("span", "meta", (m.edit_date ? "edited " : "") + time(m.date)));
    bubble.append(renderText(m.text || "", m.entities));
    if (m.reaction_counts.length) {
      const reactions = el("div", "reactions");
      for (const r of m.reaction_counts) reactions.append(el("span", "reaction", `${r.reaction} ${r.count}`));
      bubble.append(reactions);
    }
    bubble.title = `#${m.message_id} · click to reply (select text first to quote it)`;
    bubble.addEventListener("click", () => startReply(m));
    row.append(bubble);
    box.append(row);
    previous = fromId;
  }
  if (scrollToEnd || nearEnd) box.scrollTop = box.scrollHeight;
}

function renderReplyBlock(m) {
  const from = m.reply_to.from;
  const block = el("div", "reply" + (m.quote ? " quote" : ""));
  block.style.color = pick(NAME_COLORS, from ? from.id : 0);
  block.append(el("div", "reply-from", from ? from.name : "Deleted message"));
  const text = m.quote ? m.quote.text : m.reply_to.text || "";
  block.append(el("div", "reply-body-text", text));
  block.addEventListener("click", (event) => {
    event.stopPropagation();
    const target = document.querySelector(`.row[data-id="${m.reply_to.message_id}"] .bubble`);
    if (target) {
      target.scrollIntoView({ block: "center", behavior: "smooth" });
      target.classList.remove("flash");
      void target.offsetWidth;
      target.classList.add("flash");
    }
  });
  return block;
}

function renderTyping() {
  const box = $("typing");
  const now = Date.now() / 1000;
  const names = [...state.typing.values()].filter((t) => t.until > now).map((t) => t.name);
  box.hidden = names.length === 0;
  if (!names.length) return;
  box.replaceChildren();
  const who = names.length === 1 ? `${names[0]} is typing`
    : names.length === 2 ? `${names[0]} and ${names[1]} are typing`
    : `${names.length} people are typing`;
  box.append(document.createTextNode(who));
  const dots = el("span", "dots");
  for (let i = 0; i < 3; i++) dots.append(el("span", null, "."));
  box.append(dots);
}

// ---------------------------------------------------------------- posting

function startReply(m) {
  const selection = window.getSelection ? String(window.getSelection()).trim() : "";
  const quote = selection && (m.text || "").includes(selection) ? selection : null;
  state.reply = {
    message_id: m.message_id,
    name: m.from ? m.from.name : "",
    text: quote || m.text || "",
    quote,
  };
  renderReply();
  $("text").focus();
}

function renderReply() {
  const preview = $("reply-preview");
  preview.hidden = !state.reply;
  if (!state.reply) return;
  $("reply-name").textContent = (state.reply.quote ? "Quote from " : "Reply to ") + state.reply.name;
  $("reply-text").textContent = state.reply.text;
}

async function send(event) {
  event.preventDefault();
  const input = $("text");
  const text = input.value.trim();
  if (!text || state.current === null) return;
  const body = { text };
  if (state.sender !== null) body.from = state.sender;
  if (state.reply) {
    body.reply_to_message_id = state.reply.message_id;
    if (state.reply.quote) body.quote = state.reply.quote;
  }
  const response = await fetch(`${API}/chats/${state.current}/messages`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    alert(problem.error || `could not send (${response.status})`);
    return;
  }
  const posted = await response.json();
  state.sender = posted.from ? posted.from.id : state.sender;
  input.value = "";
  state.reply = null;
  renderReply();
  refreshChat(true);
}

// ---------------------------------------------------------------- live updates

const refreshList = debounce(() => loadChats().catch(console.error), 250);
const refreshCurrent = debounce(() => refreshChat(false).catch(console.error), 80);

function onEvent(event) {
  if (event.type === "typing") {
    if (event.chat_id === state.current) {
      state.typing.set(event.user_id, { name: event.name, until: event.until });
      renderTyping();
    }
    return;
  }
  if (event.chat_id === state.current || event.type === "resync" || event.type === "users") {
    refreshCurrent();
  }
  refreshList();
}

function connect() {
  if (!window.EventSource) return poll();
  const source = new EventSource(API + "/events");
  source.onopen = () => setLive(true);
  source.onmessage = (message) => onEvent(JSON.parse(message.data));
  source.onerror = () => setLive(false);
}

function poll() {
  setLive(false);
  setInterval(() => {
    refreshList();
    refreshCurrent();
  }, 2000);
}

function setLive(live) {
  state.live = live;
  const status = $("status");
  status.textContent = live ? "live" : "reconnecting…";
  status.classList.toggle("live", live);
}

$("composer").addEventListener("submit", send);
$("reply-cancel").addEventListener("click", () => {
  state.reply = null;
  renderReply();
});
$("sender").addEventListener("change", async (event) => {
  if (!event.target.value) {
    const name = (prompt("Name of the new person") || "").trim();
    if (name) {
      const response = await fetch(`${API}/users`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ first_name: name }),
      });
      if (response.ok) {
        state.sender = (await response.json()).id;
        state.extraSender = { id: state.sender, name };
      }
    }
    if (state.view) renderSenders(state.view);
  } else {
    state.sender = Number(event.target.value);
  }
  if (state.view) renderMessages(state.view, false);
});
setInterval(renderTyping, 500);

loadChats().catch(console.error);
connect();
