// The operator console. Everything it shows or changes goes through the worker's own API with
// the session cookie (HttpOnly: this script never sees it) and, on every change, the session's
// CSRF token. Data is only ever put on the page as text, never as markup.
"use strict";

const $ = (selector) => document.querySelector(selector);
let session = null;
let person = null;

class ApiFailure extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body) {
  const headers = {};
  if (method !== "GET") headers["x-csrf-token"] = session ? session.csrf : "";
  if (body !== undefined) headers["content-type"] = "application/json";
  const reply = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  const text = await reply.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  if (reply.status === 401 && path !== "/console/session") {
    signedOut("Your session has ended. Sign in again.");
  }
  if (!reply.ok) throw new ApiFailure(reply.status, json && json.error, json && json.message);
  return { json, text, headers: reply.headers };
}

// ---- small DOM helpers: text only ----
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value !== undefined && value !== null) node.setAttribute(name, String(value));
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(child ?? ""));
  }
  return node;
}

function rows(table, list, cells) {
  const body = $(`${table} tbody`);
  body.replaceChildren();
  if (list.length === 0) {
    const width = $(`${table} thead tr`).children.length;
    body.append(el("tr", {}, el("td", { colspan: width, class: "empty" }, "Nothing yet.")));
    return;
  }
  for (const item of list) body.append(el("tr", {}, ...cells(item).map((c) => el("td", {}, c))));
}

const when = (seconds) =>
  seconds ? new Date(seconds * 1000).toISOString().replace("T", " ").slice(0, 16) : "–";

const change = (c) => {
  const scope = c.scope === "marketing" ? " of marketing" : "";
  return c.status === "opted_out" ? `opted out${scope}` : c.status === "opted_in" ? `opted in${scope}` : c.status;
};

function notice(text, kind) {
  const box = $("#notice");
  box.className = kind || "";
  box.textContent = text;
}

function failed(error) {
  if (error instanceof ApiFailure && error.status === 401) return;
  notice(error instanceof ApiFailure ? `Refused: ${error.message}` : `Failed: ${error.message}`, "error");
}

// ---- session ----
function signedOut(message) {
  session = null;
  for (const id of ["#overview", "#person", "#export", "#nav", "#who", "#stop-banner"]) $(id).hidden = true;
  $("#signin").hidden = false;
  $("#signin-error").textContent = message || "";
  $("#token").focus();
}

function signedIn(s) {
  session = s;
  document.body.dataset.scope = s.scope;
  $("#scope").textContent = s.scope === "admin" ? "Admin" : "Viewer (read only)";
  $("#signin").hidden = true;
  $("#nav").hidden = false;
  $("#who").hidden = false;
  show(location.hash.slice(1) || "overview");
}

async function signIn(event) {
  event.preventDefault();
  const token = $("#token").value;
  $("#token").value = "";
  try {
    const { json } = await api("POST", "/console/session", { token });
    $("#signin-error").textContent = "";
    signedIn(json);
  } catch (error) {
    const why = {
      401: "That token is not one of this worker's.",
      403: "The send token cannot open the console; use ADMIN_TOKEN or VIEWER_TOKEN.",
      429: "Too many wrong tokens from here; wait a minute.",
    };
    $("#signin-error").textContent = why[error.status] || error.message;
  }
}

async function signOut() {
  try {
    await api("POST", "/console/session/end");
  } finally {
    signedOut("You are signed out.");
  }
}

// ---- views ----
function show(view) {
  if (!session) return;
  if (!["overview", "person", "export"].includes(view)) view = "overview";
  for (const name of ["overview", "person", "export"]) $(`#${name}`).hidden = name !== view;
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.view === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (view === "overview") loadOverview().catch(failed);
}

async function loadOverview() {
  const [{ json: account }, { json: overview }] = await Promise.all([
    api("GET", "/v1/account"),
    api("GET", "/v1/consent/overview"),
  ]);
  renderSending(account);
  for (const [name, value] of Object.entries(overview.people)) {
    const slot = $(`#count-${name}`);
    if (slot) slot.textContent = String(value);
  }
  $("#overview-incomplete").hidden = overview.complete !== false;
  renderChart(overview.days);
  rows("#days-table", overview.days, (d) => [d.date, String(d.opted_out + d.opted_out_marketing), String(d.opted_out_marketing), String(d.opted_in)]);
  rows("#latest-table", overview.latest, (c) => [
    when(c.at),
    (c.ids || []).join(", ") || "–",
    change(c) + (c.applied ? "" : " (older, kept as evidence)"),
    c.source,
    c.evidence || (c.keyword ? `“${c.keyword}”` : "–"),
  ]);
  rows("#quality-table", account.quality || [], (q) => [when(q.at), q.display_phone_number || "–", q.event || "–", q.messaging_limit || "–"]);
  const templates = [...(account.templates || []), ...(account.template_quality || [])].sort((a, b) => b.at - a.at);
  rows("#templates-table", templates, (t) => [
    when(t.at),
    `${t.name || t.template_id || "?"}${t.language ? ` (${t.language})` : ""}`,
    t.kind === "template_quality" ? `quality ${t.previous || "?"} → ${t.new || "?"}` : [t.event, t.reason].filter(Boolean).join(": ") || "updated",
  ]);
  const alerts = [
    ...(account.alerts || []).map((a) => ["alert", [a.severity, a.type, a.description].filter(Boolean).join(" · "), a.at]),
    ...(account.account_updates || []).map((u) => ["account update", [u.event, u.ban_state, u.violation].filter(Boolean).join(" · "), u.at]),
    ...(account.token_problems || []).map((t) => ["access token", [t.code, t.reason].filter(Boolean).join(" · "), t.at]),
    ...(account.errors || []).map((e) => ["webhook error", [e.code, e.title].filter(Boolean).join(" · "), e.at]),
  ].sort((a, b) => b[2] - a[2]);
  rows("#alerts-table", alerts, ([kind, details, at]) => [when(at), kind, details || "–"]);
  renderGuards(account.guards || {}, account.ramp_budget || []);
}

function renderSending(account) {
  const stopped = account.stopped;
  const paused = account.paused || [];
  const marketing = account.marketing_paused || [];
  const banner = $("#stop-banner");
  banner.hidden = !stopped;
  banner.textContent = stopped ? `Every send is stopped since ${when(stopped.at)} UTC: ${stopped.reason}` : "";
  $("#sending-state").textContent = stopped
    ? "Emergency stop in force: nothing is sent from any number until it is lifted."
    : paused.length || marketing.length
      ? "Some sending is paused (below)."
      : "Sending normally.";
  const list = $("#paused-list");
  list.replaceChildren(
    ...paused.map((p) => el("li", {}, `Number ${p.phone_number_id || "?"} paused by Meta's spam rate limit (131048) since ${when(p.at)} UTC`)),
    ...marketing.map((m) => el("li", {}, `Marketing paused since ${when(m.at)} UTC: ${[m.reason, m.event, m.display_phone_number].filter(Boolean).join(", ")}`)),
  );
  const admin = session && session.scope === "admin";
  $("#resume").hidden = !admin || !(stopped || paused.length || marketing.length);
  $("#resume").textContent = stopped ? "Lift the emergency stop and resume" : "Resume sending";
  $("#stop-form").hidden = !admin || Boolean(stopped);
}

function renderChart(days) {
  const width = 600;
  const height = 140;
  const top = Math.max(1, ...days.map((d) => Math.max(d.opted_out + d.opted_out_marketing, d.opted_in)));
  const slot = width / days.length;
  const bar = Math.max(2, slot / 2 - 2);
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height + 20}`);
  svg.setAttribute("role", "img");
  const outs = days.reduce((n, d) => n + d.opted_out + d.opted_out_marketing, 0);
  const ins = days.reduce((n, d) => n + d.opted_in, 0);
  svg.setAttribute("aria-label", `${outs} opt-outs and ${ins} opt-ins over the last 30 days; the numbers by day are in the table below.`);
  days.forEach((d, i) => {
    const out = d.opted_out + d.opted_out_marketing;
    for (const [value, kind, offset] of [[out, "out", 1], [d.opted_in, "in", bar + 2]]) {
      const h = (value / top) * height;
      const rect = document.createElementNS(ns, "rect");
      rect.setAttribute("x", String(i * slot + offset));
      rect.setAttribute("y", String(height - h));
      rect.setAttribute("width", String(bar));
      rect.setAttribute("height", String(Math.max(h, value ? 1 : 0)));
      rect.setAttribute("class", kind);
      rect.dataset.date = d.date;
      rect.dataset.kind = kind;
      rect.dataset.value = String(value);
      const title = document.createElementNS(ns, "title");
      title.textContent = `${d.date}: ${value} ${kind === "out" ? "opt-outs" : "opt-ins"}`;
      rect.append(title);
      svg.append(rect);
    }
  });
  for (const [i, label] of [[0, days[0]?.date], [days.length - 1, days[days.length - 1]?.date]]) {
    const text = document.createElementNS(ns, "text");
    text.setAttribute("x", String(i === 0 ? 0 : width));
    text.setAttribute("y", String(height + 16));
    text.setAttribute("text-anchor", i === 0 ? "start" : "end");
    text.textContent = label || "";
    svg.append(text);
  }
  $("#chart").replaceChildren(svg);
}

function renderGuards(guards, ramp) {
  const today = new Date().toISOString().slice(0, 10);
  const pairs = [
    ["Marketing templates per person per 24 h", guards.marketing_per_day ?? "–"],
    ["New-number daily budget", guards.ramp_daily_limit ?? "off"],
    ...ramp.filter((r) => r.date === today).map((r) => [`Budget handed out today, number ${r.phone_number_id}`, `${r.handed_out} of ${r.limit}`]),
    ["Templates of unknown category count as", guards.unknown_template_category || "marketing"],
  ];
  const names = {
    marketing_limit: "the marketing cap",
    ramp_budget_used: "the new-number budget",
    opted_out: "an opt-out",
    window_closed: "the closed 24-hour window",
    pair_rate_limited: "pacing",
    number_paused: "a paused number",
    sending_stopped: "the emergency stop",
    undeliverable: "an undeliverable person",
  };
  const refused = Object.entries(guards.refused_today || {});
  if (refused.length === 0) pairs.push(["Sends refused today", "none"]);
  for (const [guard, count] of refused) pairs.push([`Sends refused today by ${names[guard] || guard}`, String(count)]);
  $("#guards").replaceChildren(...pairs.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, String(v))]));
}

async function stopSending(event) {
  event.preventDefault();
  const reason = $("#stop-reason").value.trim();
  if (!reason) return;
  try {
    await api("PUT", "/v1/account/pause", { reason });
    $("#stop-reason").value = "";
    await loadOverview();
    notice("Every send is stopped.", "done");
  } catch (error) {
    failed(error);
  }
}

async function resume() {
  try {
    const { json } = await api("DELETE", "/v1/account/pause");
    await loadOverview();
    notice(json.stop_lifted ? "The emergency stop is lifted; sending resumes." : "Sending resumes.", "done");
  } catch (error) {
    failed(error);
  }
}

// ---- a person ----
async function lookUp(event) {
  if (event) event.preventDefault();
  const id = $("#lookup-id").value.trim();
  if (!id) return;
  try {
    const [{ json: consent }, { json: history }, { json: outbox }] = await Promise.all([
      api("POST", "/v1/contacts/lookup", { wa_id: id, view: "consent" }),
      api("POST", "/v1/contacts/lookup", { wa_id: id, view: "messages", limit: 100 }),
      api("POST", "/v1/contacts/lookup", { wa_id: id, view: "outbox" }),
    ]);
    person = id;
    renderPerson(consent, history, outbox);
  } catch (error) {
    $("#person-view").hidden = true;
    failed(error);
  }
}

function renderPerson(consent, history, outbox) {
  $("#person-view").hidden = false;
  $("#erase-confirm").hidden = true;
  $("#person-status").textContent =
    consent.status === "unknown" ? "no consent recorded" : change({ status: consent.status, scope: consent.scope });
  $("#person-since").textContent = when(consent.updated_at);
  const ids = [consent.wa_id, ...(consent.linked_ids || [])].filter((v, i, all) => v && all.indexOf(v) === i);
  $("#person-ids").textContent = ids.join(", ");
  const ledger = [...(consent.history || [])].sort((a, b) => b.at - a.at);
  rows("#ledger-table", ledger, (c) => [
    when(c.at),
    change(c),
    c.source,
    c.evidence || (c.keyword ? `“${c.keyword}”` : "–"),
    c.applied ? "yes" : "no (older)",
  ]);
  rows("#messages-table", history.messages || [], (m) => [when(m.at), m.direction, m.type || "–", m.text || "–", m.status || "–"]);
  $("#pending").textContent = outbox.pending
    ? `${outbox.pending} waiting; the next attempt ${when(outbox.next_attempt_at)} UTC.`
    : "None.";
}

async function record(event) {
  event.preventDefault();
  if (!person) return;
  const body = {
    wa_id: person,
    status: $("#record-status").value,
    scope: $("#record-scope").value,
    evidence: $("#record-evidence").value.trim(),
  };
  try {
    await api("POST", "/v1/contacts/consent", body);
    $("#record-evidence").value = "";
    await lookUp();
    notice("Recorded in the ledger.", "done");
  } catch (error) {
    failed(error);
  }
}

async function erase() {
  if (!person) return;
  try {
    const { json } = await api("POST", "/v1/contacts/erase", { wa_id: person });
    const deleted = json.deleted || {};
    await lookUp();
    notice(
      `Erased: ${deleted.messages || 0} messages, ${deleted.statuses || 0} statuses, ${deleted.pending_sends || 0} pending sends.` +
        (json.suppression_kept ? " Their opt-out is kept, so they are not messaged again." : ""),
      "done",
    );
  } catch (error) {
    failed(error);
  }
}

// ---- export ----
async function download(format) {
  const state = $("#export-state");
  const parts = [];
  let cursor = "";
  let records = 0;
  try {
    for (let page = 0; page < 10000; page++) {
      const query = new URLSearchParams({ format });
      if (cursor) query.set("cursor", cursor);
      const { text, headers } = await api("GET", `/v1/consent/export?${query}`);
      parts.push(text);
      records += Number(headers.get("x-records") || 0);
      state.textContent = `${records} records read…`;
      cursor = headers.get("x-next-cursor") || "";
      if (!cursor) break;
    }
    const type = format === "csv" ? "text/csv" : "application/x-ndjson";
    const url = URL.createObjectURL(new Blob(parts, { type }));
    const link = el("a", { href: url, download: `consent-${new Date().toISOString().slice(0, 10)}.${format}` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    state.textContent = `${records} records exported.`;
  } catch (error) {
    state.textContent = "";
    failed(error);
  }
}

// ---- wiring ----
document.addEventListener("DOMContentLoaded", async () => {
  $("#signin-form").addEventListener("submit", signIn);
  $("#sign-out").addEventListener("click", signOut);
  $("#stop-form").addEventListener("submit", stopSending);
  $("#resume").addEventListener("click", resume);
  $("#lookup-form").addEventListener("submit", lookUp);
  $("#record-form").addEventListener("submit", record);
  $("#erase").addEventListener("click", () => {
    $("#erase-confirm").hidden = false;
    $("#erase-no").focus();
  });
  $("#erase-no").addEventListener("click", () => ($("#erase-confirm").hidden = true));
  $("#erase-yes").addEventListener("click", erase);
  $("#export-csv").addEventListener("click", () => download("csv"));
  $("#export-ndjson").addEventListener("click", () => download("ndjson"));
  window.addEventListener("hashchange", () => show(location.hash.slice(1)));
  try {
    const { json } = await api("GET", "/console/session");
    signedIn(json);
  } catch {
    signedOut("");
  }
});
