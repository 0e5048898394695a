// The soak run (`npm run soak`): the built worker on workerd with local KV and Durable Objects,
// driven by N signed deliveries from M people the way Meta sends them (texts, STOP/START/HELP in
// several languages, the marketing opt-out button and `user_preferences`, duplicated and
// re-batched, shuffled), against a fake Graph API on 127.0.0.1 that fails at set rates and
// echoes Meta's statuses. Halfway through, the worker's whole process group is killed and
// restarted on the same state, and everything not acknowledged is delivered again. Then the end
// state is checked against a model this script computes on its own (it calls none of the
// project's code). Prints the counts and latencies; exits 1 on any miss.
//
// node tests/soak/soak.mjs [--deliveries 10000] [--people 500] [--concurrency 32] [--seed 1]

import fs from "node:fs";
import http from "node:http";
import { sign as signWith, startWorker, stateDir } from "../node/worker.mjs";

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const DELIVERIES = arg("deliveries", 10_000);
const PEOPLE = arg("people", 500);
const CONCURRENCY = arg("concurrency", 32);
const SEED = arg("seed", 1);
// Bounds: the whole run, and the wait for every outbox to drain once all is delivered.
const RUN_LIMIT_MS = arg("limit-seconds", 1500) * 1000;
const SETTLE_LIMIT_MS = 240_000;
// Meta's statuses for a send whose outcome is unknown are waited for this long.
const STATUS_WAIT_S = 10;

const APP_SECRET = "soak-app-secret";
const ADMIN_TOKEN = "soak-admin-token";
const NUMBER = "106540352242922";
const TEXTS = {
  optOut: "Soak Shop: you are unsubscribed. Reply START to subscribe again.",
  optIn: "Soak Shop: you are subscribed again. Reply STOP to unsubscribe.",
  help: "Soak Shop help: reply with your question. Reply STOP to unsubscribe.",
  reply: "Soak Shop: thanks, a person will answer soon.",
};
// The fault schedule of the fake Graph API, per request.
const FAULTS = { coded500: 0.025, bare500: 0.025, pairRate: 0.02, closed: 0.005, lost: 0.005 };

// ---- a seeded generator, so a run can be repeated ----
let state = SEED >>> 0 || 1;
const random = () => {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = (list) => list[Math.floor(random() * list.length)];
const shuffle = (list) => {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [list[i], list[j]] = [list[j], list[i]];
  }
  return list;
};

// ---- what the people say ----
const STOPS = ["STOP", "stop", "Stop please", "unsubscribe", "PARAR", "cancelar", "abmelden", "arrête", "disiscriviti"];
const STARTS = ["START", "start", "Unstop", "subscribe"];
const HELPS = ["HELP", "ayuda", "hilfe", "aide"];
const run = `${SEED}${Date.now() % 100000}`;
const now = Math.floor(Date.now() / 1000);
const people = Array.from({ length: PEOPLE }, (_, i) => `1555${String(3_000_000 + i).padStart(7, "0")}`);

// Each unique item: a message or a preference, at the person's own time (distinct per person,
// within the last hour, so the window is open), with what it means for consent.
const items = [];
const uniqueItems = Math.round(DELIVERIES * 0.8 * 0.85);
const clock = new Map(people.map((p) => [p, now - 3600]));
for (let n = 0; n < uniqueItems; n++) {
  const from = pick(people);
  const at = clock.get(from) + 1 + Math.floor(random() * 5);
  clock.set(from, at);
  const r = random();
  const id = `wamid.SOAK${run}x${n}`;
  let item;
  if (r < 0.07) item = { kind: "text", text: pick(STOPS), consent: ["opted_out", "all"] };
  else if (r < 0.11) item = { kind: "text", text: pick(STARTS), consent: ["opted_in", "all"] };
  else if (r < 0.14) item = { kind: "text", text: pick(HELPS), help: true };
  else if (r < 0.16) item = { kind: "button", text: "Stop promotions", consent: ["opted_out", "marketing"] };
  else if (r < 0.18) item = { kind: "preference", value: "stop", consent: ["opted_out", "marketing"] };
  else if (r < 0.19) item = { kind: "preference", value: "resume", consent: ["opted_in", "marketing"] };
  else item = { kind: "text", text: `soak-marker-${run} order ${n}` };
  items.push({ ...item, id, from, at });
}

const messageOf = (it) => {
  if (it.kind === "button") {
    return { from: it.from, id: it.id, timestamp: String(it.at), type: "button", button: { payload: it.text, text: it.text }, context: { from: "15550783881", id: "wamid.TEMPLATE" } };
  }
  return { from: it.from, id: it.id, timestamp: String(it.at), type: "text", text: { body: it.text } };
};
const changeOf = (group) => {
  const prefs = group.filter((it) => it.kind === "preference");
  const msgs = group.filter((it) => it.kind !== "preference");
  const changes = [];
  if (msgs.length) {
    changes.push({
      field: "messages",
      value: {
        messaging_product: "whatsapp",
        metadata: { display_phone_number: "15550783881", phone_number_id: NUMBER },
        contacts: [...new Set(msgs.map((m) => m.from))].map((wa) => ({ profile: { name: "Soak" }, wa_id: wa })),
        messages: msgs.map(messageOf),
      },
    });
  }
  for (const p of prefs) {
    changes.push({
      field: "user_preferences",
      value: {
        messaging_product: "whatsapp",
        metadata: { display_phone_number: "15550783881", phone_number_id: NUMBER },
        contacts: [{ profile: { name: "Soak" }, wa_id: p.from }],
        user_preferences: [{ wa_id: p.from, detail: p.id, category: "marketing_messages", value: p.value, timestamp: p.at }],
      },
    });
  }
  return changes;
};
const envelope = (changes) => JSON.stringify({ object: "whatsapp_business_account", entry: [{ id: "102290129340398", time: now, changes }] });

// Deliveries: most carry one item, some two or three; then copies: exact ones, and the same
// items batched again in other groupings, until there are DELIVERIES; then shuffled.
const bodies = [];
for (let i = 0; i < items.length; ) {
  const size = random() < 0.8 ? 1 : random() < 0.5 ? 2 : 3;
  bodies.push(envelope(changeOf(items.slice(i, i + size))));
  i += size;
}
let exact = 0;
let rebatched = 0;
while (bodies.length < DELIVERIES) {
  if (random() < 0.5) {
    bodies.push(pick(bodies));
    exact++;
  } else {
    bodies.push(envelope(changeOf(Array.from({ length: 1 + Math.floor(random() * 3) }, () => pick(items)).filter((it, i, all) => all.indexOf(it) === i))));
    rebatched++;
  }
}
shuffle(bodies);
const sign = (body) => signWith(APP_SECRET, body);

// ---- the fake Graph API ----
const graphLog = [];
const echoQueue = new Set();
let workerBase = null;
let wamids = 0;
const faultCounts = { coded500: 0, bare500: 0, pairRate: 0, closed: 0, lost: 0, ok: 0 };
const echo = (body, wamid) => {
  const status = (s) => ({ id: wamid, status: s, timestamp: String(Math.floor(Date.now() / 1000)), recipient_id: body.to, biz_opaque_callback_data: body.biz_opaque_callback_data });
  const statuses = [status("sent")];
  if (random() < 0.5) statuses.push(status("delivered"));
  const text = envelope([{ field: "messages", value: { messaging_product: "whatsapp", metadata: { display_phone_number: "15550783881", phone_number_id: NUMBER }, statuses } }]);
  const job = (async () => {
    const until = Date.now() + 120_000;
    while (Date.now() < until) {
      try {
        const r = await fetch(`${workerBase}/webhook`, { method: "POST", headers: { "content-type": "application/json", "x-hub-signature-256": sign(text) }, body: text });
        await r.arrayBuffer();
        if (r.status === 200) return;
      } catch {}
      await new Promise((ok) => setTimeout(ok, 250));
    }
  })();
  echoQueue.add(job);
  job.finally(() => echoQueue.delete(job));
};
const graph = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    let body = {};
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {}
    const r = random();
    let fault = "ok";
    let edge = 0;
    for (const [name, rate] of Object.entries(FAULTS)) {
      edge += rate;
      if (r < edge) {
        fault = name;
        break;
      }
    }
    faultCounts[fault]++;
    const accepted = fault === "ok" || fault === "lost";
    const wamid = `wamid.SOAKOUT${++wamids}`;
    graphLog.push({ t: Date.now(), to: body.to ?? null, body, fault, accepted });
    if (accepted && body.biz_opaque_callback_data) echo(body, wamid);
    const send = (status, obj) => {
      const text = JSON.stringify(obj);
      res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
      res.end(text);
    };
    const metaError = (code) => ({ error: { message: "soak fault", type: "OAuthException", code, fbtrace_id: "SOAK" } });
    switch (fault) {
      case "coded500":
        return send(500, metaError(1));
      case "bare500":
        res.writeHead(500, { "content-type": "text/html" });
        return res.end("<html>Internal Server Error</html>");
      case "pairRate":
        return send(400, metaError(131056));
      case "closed":
      case "lost":
        return req.socket.destroy();
      default:
        if (body.status === "read") return send(200, { success: true });
        return send(200, { messaging_product: "whatsapp", contacts: [{ input: body.to, wa_id: body.to }], messages: [{ id: wamid }] });
    }
  });
});
await new Promise((ok) => graph.listen(0, "127.0.0.1", ok));
const graphBase = `http://127.0.0.1:${graph.address().port}`;

// ---- the worker, in its own process group ----
const persist = stateDir("soak");
const vars = {
  WHATSAPP_APP_SECRET: APP_SECRET,
  WHATSAPP_VERIFY_TOKEN: "soak-verify-token",
  WHATSAPP_ACCESS_TOKEN: "soak-access-token",
  ADMIN_TOKEN,
  CONTACT_KEY_SECRET: "soak-contact-key-secret",
  GRAPH_API_BASE: graphBase,
  BUSINESS_NAME: "Soak Shop",
  OPT_OUT_CONFIRMATION: TEXTS.optOut,
  OPT_IN_CONFIRMATION: TEXTS.optIn,
  HELP_TEXT: TEXTS.help,
  DEFAULT_REPLY: TEXTS.reply,
  AUTO_REPLY_RULES: "[]",
  UNCONFIRMED_SEND_RETRY_SECONDS: String(STATUS_WAIT_S),
};
// Both runs of the worker, before and after the kill, print into one log.
const runs = [];
const start = async () => {
  const worker = await startWorker({ persist, vars });
  runs.push(worker);
  return worker;
};
const logOfRuns = () => runs.map((w) => w.log()).join("");

// ---- delivering ----
const latencies = [];
const answers = {};
const acked = new Map(); // body index -> wall time of its 200
const started = new Map(); // body index -> wall time its first delivery began
let fivexx = 0;
const deliver = async (i) => {
  if (!started.has(i)) started.set(i, Date.now());
  const t = performance.now();
  try {
    const r = await fetch(`${workerBase}/webhook`, { method: "POST", headers: { "content-type": "application/json", "x-hub-signature-256": sign(bodies[i]) }, body: bodies[i] });
    await r.arrayBuffer();
    answers[r.status] = (answers[r.status] ?? 0) + 1;
    if (r.status === 200) {
      latencies.push(performance.now() - t);
      acked.set(i, Date.now());
      return true;
    }
    if (r.status >= 500) fivexx++;
  } catch {
    answers.none = (answers.none ?? 0) + 1;
  }
  return false;
};
const pool = async (indexes, stopAt) => {
  let next = 0;
  const failed = [];
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < indexes.length && !(stopAt && stopAt())) {
        const i = indexes[next++];
        if (!(await deliver(i))) failed.push(i);
      }
    }),
  );
  return { failed, rest: indexes.slice(next) };
};

const began = Date.now();
const deadline = () => Date.now() - began > RUN_LIMIT_MS;
let worker = await start();
workerBase = worker.base;
const all = bodies.map((_, i) => i);
// First half; the kill comes while the second half is in flight.
const half = Math.floor(all.length / 2);
let { failed } = await pool(all.slice(0, half));
let killed = false;
const second = pool(all.slice(half), () => killed);
await new Promise((ok) => setTimeout(ok, 1500));
worker.kill();
killed = true;
const interrupted = await second;
const redeliver = [...failed, ...interrupted.failed, ...interrupted.rest];
worker = await start();
workerBase = worker.base;
// Meta redelivers until acknowledged (bounded here by the run's limit).
let pending = redeliver;
let rounds = 0;
while (pending.length && !deadline() && rounds < 20) {
  ({ failed: pending } = await pool(pending));
  rounds++;
}

// ---- settle: every outbox empty, every echoed status delivered ----
// Lookups carry the id in the body, so no number reaches the access log either.
const lookup = async (wa, view, extra = {}) => {
  const r = await fetch(`${workerBase}/v1/contacts/lookup`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ wa_id: wa, view, ...extra }) });
  const text = await r.text();
  return { status: r.status, json: text ? JSON.parse(text) : null };
};
const settleUntil = Date.now() + SETTLE_LIMIT_MS;
let undrained = [...people];
while (undrained.length && Date.now() < settleUntil) {
  const still = [];
  for (let i = 0; i < undrained.length; i += CONCURRENCY) {
    const batch = undrained.slice(i, i + CONCURRENCY);
    const outs = await Promise.all(batch.map((p) => lookup(p, "outbox")));
    outs.forEach((o, k) => {
      if (o.status !== 200 || o.json.pending !== 0) still.push(batch[k]);
    });
  }
  undrained = still;
  if (undrained.length) await new Promise((ok) => setTimeout(ok, 1000));
}
while (echoQueue.size && Date.now() < settleUntil) await Promise.race([...echoQueue]);

// ---- the model and the checks ----
const misses = [];
const miss = (what) => {
  if (misses.length < 50) misses.push(what);
  else misses.length++;
};
if (pending.length) miss(`${pending.length} deliveries never acknowledged`);
if (undrained.length) miss(`${undrained.length} people's outboxes did not drain in ${SETTLE_LIMIT_MS / 1000} s`);
if (fivexx) miss(`${fivexx} webhook answers of 5xx (the fault schedule has none for the worker)`);

// The ordering rule, on its own: by the person's time; an opt-out of everything is only lifted
// by an opt-in to everything; a marketing change moves only a marketing state.
const expected = new Map(people.map((p) => [p, { status: "unknown", scope: null }]));
for (const p of people) {
  const events = items.filter((it) => it.from === p && it.consent).sort((a, b) => a.at - b.at);
  // (Every item is in a delivery that is acknowledged in the end, or the run misses anyway.)
  let s = { status: "unknown", scope: null };
  for (const { consent: [status, scope] } of events) {
    const all = s.status === "opted_out" && s.scope === "all";
    if (status === "opted_out" && scope === "all") s = { status, scope };
    else if (status === "opted_out") s = all ? s : { status, scope: "marketing" };
    else if (scope === "all") s = { status: "opted_in", scope: null };
    else s = all ? s : { status: "opted_in", scope: null };
  }
  expected.set(p, s);
}
// When each item first began to be delivered, and was first acknowledged (a preference carries
// its id in `detail`).
const idsIn = bodies.map((b) => [...b.matchAll(/"(?:id|detail)":"(wamid\.SOAK[^"]+)"/g)].map((m) => m[1]));
const earliest = (times) => {
  const out = new Map();
  times.forEach((t, i) => idsIn[i].forEach((id) => out.get(id) <= t || out.set(id, t)));
  return out;
};
const firstStart = earliest(started);
const firstAck = earliest(acked);
const itemsOf = new Map(people.map((p) => [p, []]));
items.forEach((it) => itemsOf.get(it.from).push(it));
const accepted = graphLog.filter((g) => g.accepted);
const sendsTo = (p) => graphLog.filter((g) => g.to === p);
let storedMessages = 0;
let confirmedStops = 0;
for (const p of people) {
  // Every unique message stored once.
  const ids = [];
  let cursor = "";
  for (let page = 0; page < 20; page++) {
    const r = await lookup(p, "messages", cursor ? { limit: 100, cursor } : { limit: 100 });
    if (r.status !== 200) {
      miss(`history of a person: ${r.status}`);
      break;
    }
    ids.push(...r.json.messages.filter((m) => m.direction === "inbound").map((m) => m.id));
    if (!r.json.next_cursor) break;
    cursor = r.json.next_cursor;
  }
  const want = itemsOf.get(p).filter((it) => it.kind !== "preference" && firstAck.has(it.id)).map((it) => it.id);
  const have = new Set(ids);
  if (have.size !== ids.length) miss(`person ${people.indexOf(p)}: a message stored twice`);
  for (const id of want) if (!have.has(id)) miss(`person ${people.indexOf(p)}: message ${id} lost`);
  storedMessages += have.size;

  // Final consent as the ordering rule says.
  const c = await lookup(p, "consent");
  const e = expected.get(p);
  if (c.status !== 200 || c.json.status !== e.status || (c.json.scope ?? null) !== e.scope) {
    miss(`person ${people.indexOf(p)}: consent ${c.json?.status}/${c.json?.scope} but the events say ${e.status}/${e.scope}`);
  }

  const mine = sendsTo(p);
  // No send made twice: each outbox send (its callback) accepted at most once.
  const byCallback = new Map();
  for (const g of mine.filter((g) => g.accepted && g.body.biz_opaque_callback_data)) {
    byCallback.set(g.body.biz_opaque_callback_data, (byCallback.get(g.body.biz_opaque_callback_data) ?? 0) + 1);
  }
  for (const [callback, n] of byCallback) {
    if (n <= 1) continue;
    const tries = mine.filter((g) => g.body.biz_opaque_callback_data === callback).map((g) => `${g.fault}@${g.t - began}ms`);
    const what = Object.entries(TEXTS).find(([, t]) => t === mine.find((g) => g.body.biz_opaque_callback_data === callback)?.body.text?.body)?.[0];
    miss(`person ${people.indexOf(p)}: one send (${what ?? "other"}) accepted ${n} times; its tries: ${tries.join(", ")}`);
  }
  // Every STOP confirmed at most once, and an opted-out person confirmed, unless every try of
  // their confirmation met a fault that ends its retries.
  const optOuts = mine.filter((g) => g.body.text?.body === TEXTS.optOut);
  const perStop = new Map();
  for (const g of optOuts.filter((g) => g.accepted)) {
    const to = g.body.context?.message_id ?? "none";
    perStop.set(to, (perStop.get(to) ?? 0) + 1);
  }
  for (const [, n] of perStop) if (n > 1) miss(`person ${people.indexOf(p)}: a STOP confirmed ${n} times`);
  confirmedStops += perStop.size;
  if (e.status === "opted_out" && e.scope === "all" && perStop.size === 0) {
    const explained = optOuts.length > 0 && optOuts.every((g) => g.fault === "coded500" || g.fault === "pairRate");
    if (!explained) miss(`person ${people.indexOf(p)}: opted out and never confirmed (${optOuts.length} tries)`);
  }
  // Nothing but confirmations and help to a person after the worker acknowledged their STOP,
  // unless a newer opt-in of theirs had reached it by then.
  const stops = itemsOf
    .get(p)
    .filter((it) => it.consent?.[0] === "opted_out" && it.consent[1] === "all" && firstAck.has(it.id))
    .map((it) => ({ at: it.at, t: firstAck.get(it.id) }));
  for (const g of mine.filter((g) => g.accepted && g.body.text?.body === TEXTS.reply)) {
    for (const s of stops) {
      if (g.t < s.t + 2000) continue;
      const liftedBy = itemsOf.get(p).some((it) => it.consent?.[0] === "opted_in" && it.consent[1] === "all" && it.at > s.at && firstStart.get(it.id) <= g.t);
      if (!liftedBy) miss(`person ${people.indexOf(p)}: sent a reply ${g.t - s.t} ms after their STOP was acknowledged`);
    }
  }
}
// No personal data in the log: no person's number, no message text.
const log = logOfRuns();
const leaks = people.filter((p) => log.includes(p)).length;
if (leaks) miss(`${leaks} phone numbers in the worker's log, e.g. ${log.split("\n").find((l) => people.some((p) => l.includes(p))).replace(/\d{6,}/g, "<number>")}`);
if (log.includes(`soak-marker-${run}`)) miss("message text in the worker's log");

const sorted = latencies.sort((a, b) => a - b);
const q = (f) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))].toFixed(1) : "n/a");
console.log(`soak: ${bodies.length} deliveries (${exact} exact copies, ${rebatched} re-batched) of ${items.length} items from ${PEOPLE} people, concurrency ${CONCURRENCY}, seed ${SEED}`);
console.log(`soak: worker killed 1.5 s after the first ${half} deliveries; ${interrupted.failed.length + failed.length} interrupted or refused and ${interrupted.rest.length} not yet sent were delivered after the restart in ${rounds} round(s)`);
console.log(`soak: answers ${JSON.stringify(answers)}; latency of a 200 p50 ${q(0.5)} ms, p99 ${q(0.99)} ms`);
console.log(`soak: Graph API ${graphLog.length} requests, ${accepted.length} accepted; faults ${JSON.stringify(faultCounts)}`);
console.log(`soak: ${storedMessages} messages stored, ${confirmedStops} STOPs confirmed, ${(Date.now() - began) / 1000} s`);
worker.kill();
graph.close();
fs.rmSync(persist, { recursive: true, force: true });
if (misses.length) {
  console.log(`soak: ${misses.length} miss(es):`);
  for (const m of misses) if (m) console.log(`  - ${m}`);
  process.exit(1);
}
console.log("soak: every check held");
process.exit(0);
