// The reference: the same webhook work written the way a Cloudflare user would write it in
// JavaScript, with the same design as wa-edge: WebCrypto HMAC over the raw body (keys imported
// once per isolate), JSON.parse, one Durable Object per person (one request per person per
// delivery) that asks each business number's own Durable Object whether it is paused (as
// wa-edge's person authority asks the number's authority), reads its own storage in one bulk get,
// decides, commits markers, consent, state, the queued KV writes and the outbox in one put,
// flushes the queue to KV together and sends from its alarm; statuses go to KV from the worker.
// It also makes the storage calls wa-edge's design makes, as the benchmark's stand-ins count
// them: an object remembers whose it is, a
// person's first request reads consent and state from KV, the alarm asks the numbers' pauses
// again and marks a send as leaving before it goes, the reply's record is queued in storage
// before KV, and the next wake is scheduled for the purge.
// It is what wa-edge is compared against, not a second product: the comparison is about the
// language and runtime, not the design. The worker and objects call an object's `serve` through
// its stub (RPC), with a JSON text in and out, as a JavaScript user would (wa-edge fetches it).
import { DurableObject } from "cloudflare:workers";

const enc = new TextEncoder();
// Like wa-edge: every answer is JSON, with the same headers (a client's browser must not sniff a
// type, no cache may keep an answer).
const HEADERS = { "x-content-type-options": "nosniff", "cache-control": "no-store" };
const answer = (status, value) => Response.json(value, { status, headers: HEADERS });
const refuse = (status, error, message) => answer(status, { error, message });
const DAY = 86400;
const STOP = new Set(["stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout", "parar", "baja"]);

// An isolate's secrets never change: each key is imported once (wa-edge keeps its keys too).
const keys = new Map();
function hmacKey(secret) {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    keys.set(secret, key);
  }
  return key;
}

function hexToBytes(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

async function hashId(key, domain, value) {
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, enc.encode(`${domain}\0${value}`)));
  return [...mac.slice(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export class Person extends DurableObject {
  constructor(state, env) {
    super(state, env);
    this.state = state;
    this.env = env;
    // Like wa-edge: whose object this is, remembered in storage on its first request (its alarm
    // needs it), and when this instance last set the alarm for (Unix seconds), so that a request
    // whose wake is no earlier sets none.
    this.who = null;
    this.alarmAt = null;
    this.contactState = null;
  }

  async #remember(who) {
    if (this.who === who) return;
    this.who = who;
    await this.state.storage.put("who", who);
  }

  /// Like wa-edge's `next_wake`: an alarm still ahead and no later than `at` stays.
  async #wake(at) {
    const now = Math.floor(Date.now() / 1000);
    if (this.alarmAt !== null && this.alarmAt > now && this.alarmAt <= at) return;
    await this.state.storage.setAlarm(at * 1000);
    this.alarmAt = at;
  }

  /// The pauses of these business numbers' objects (Meta's 131048), asked of each.
  async #paused(numbers) {
    const paused = new Set();
    for (const n of numbers) {
      const answer = await this.env.PERSON.getByName(n).serve(JSON.stringify({ op: "paused", number: n }));
      if (JSON.parse(answer).paused) paused.add(n);
    }
    return paused;
  }

  async serve(text) {
    const body = JSON.parse(text);
    const env = this.env;
    const storage = this.state.storage;
    // A business number's own object: is it paused (Meta's 131048)?
    if (body.op === "paused") {
      await this.#remember(body.number);
      return JSON.stringify({ paused: Boolean(await storage.get("paused")) });
    }
    const { contact: c, items, numbers } = body;
    await this.#remember(c);
    const now = Math.floor(Date.now() / 1000);
    // The numbers' objects first (their pauses), then this object's storage only.
    const paused = (await this.#paused(numbers)).size > 0;
    const keys = ["seeded", `consent:${c}`, `c:${c}:state`, ...items.map((i) => `d:m:${i.mk}`)];
    const found = await storage.get(keys);
    if (!found.get("seeded")) {
      // Like wa-edge: a person's first request reads from KV what storage lacks (consent and
      // sending state kept there before the object existed), and commits that on its own.
      const kept = await env.WHATSAPP_KV.get([`consent:${c}`, `c:${c}:state`]);
      const seed = { seeded: "1" };
      for (const [k, v] of kept) if (v !== null && !found.has(k)) found.set(k, (seed[k] = v));
      await storage.put(seed);
    }
    const consent = JSON.parse(found.get(`consent:${c}`) ?? '{"status":"unknown","history":[]}');
    const state = JSON.parse(found.get(`c:${c}:state`) ?? "{}");
    const commit = {};
    const queue = [];
    const outbox = [];
    let dirty = false;
    for (const { msg, pnid, mk, number } of items) {
      if (found.get(`d:m:${mk}`)) continue;
      const at = Number(msg.timestamp) || now;
      const text = msg.text?.body ?? "";
      const norm = text.trim().toLowerCase().replace(/[^\p{L}\p{N} -]/gu, "").trim();
      let action = null;
      if (STOP.has(norm) && consent.status !== "opted_out") {
        consent.status = "opted_out";
        consent.history.push({ status: "opted_out", at, source: "keyword", message_id: msg.id });
        dirty = true;
        outbox.push({ to: msg.from, pnid, number, body: env.OPT_OUT_CONFIRMATION ?? "unsubscribed", reply_to: msg.id });
        action = "opted_out";
      }
      state.last_inbound = Math.max(state.last_inbound ?? 0, at);
      if (!action && !paused && consent.status !== "opted_out" && env.DEFAULT_REPLY && now - at < DAY && !(state.last_default_reply > now - DAY)) {
        outbox.push({ to: msg.from, pnid, number, body: env.DEFAULT_REPLY, reply_to: msg.id });
        state.last_default_reply = now;
        action = "default_reply";
      }
      const record = { id: msg.id, direction: "inbound", at, type: msg.type, text, action };
      queue.push([`c:${c}:m:${mk}`, JSON.stringify(record), { expiration: at + 30 * DAY, metadata: { t: at, d: "in" } }]);
      commit[`d:m:${mk}`] = JSON.stringify({ v: "1", e: now + 8 * DAY });
    }
    commit[`c:${c}:state`] = JSON.stringify(state);
    this.contactState = state;
    if (dirty) {
      commit[`consent:${c}`] = JSON.stringify(consent);
      queue.push([`consent:${c}`, JSON.stringify(consent), {}]);
    }
    for (const [k, v, o] of queue) commit[`q:${k}`] = JSON.stringify({ v, o });
    outbox.forEach((o, i) => (commit[`o:${now}:${i}`] = JSON.stringify(o)));
    await storage.put(commit);
    // After the commit: the queue to KV, then the outbox from the alarm; otherwise a wake in a
    // day to purge what expired (as wa-edge's requests schedule it).
    await Promise.all(queue.map(([k, v, o]) => env.WHATSAPP_KV.put(k, v, o)));
    await storage.delete(queue.map(([k]) => `q:${k}`));
    await this.#wake(outbox.length ? now : now + DAY);
    return JSON.stringify({ stored: items.length });
  }

  async alarm() {
    this.alarmAt = null;
    const env = this.env;
    const storage = this.state.storage;
    const contactKey = await hmacKey(env.CONTACT_KEY_SECRET);
    const now = Math.floor(Date.now() / 1000);
    const c = this.who ?? (this.who = await storage.get("who"));
    const pending = await storage.list({ prefix: "o:" });
    // Like wa-edge: the numbers' pauses asked again just before sending (a 131048 may have come
    // since the decision).
    const paused = await this.#paused(new Set([...pending.values()].map((raw) => JSON.parse(raw).number)));
    for (const [key, raw] of pending) {
      const o = JSON.parse(raw);
      if (paused.has(o.number)) continue;
      // Like wa-edge: marked as leaving, with the pacing state, in one write before it goes, so
      // that a worker stopped mid-send is seen and not sent twice.
      // (wa-edge reads it from its mirror of storage; this instance keeps the last it wrote.)
      const state = this.contactState ?? JSON.parse((await storage.get(`c:${c}:state`)) ?? "{}");
      state.last_outbound = now;
      await storage.put({ [key]: JSON.stringify({ ...o, sending: true }), [`c:${c}:state`]: JSON.stringify(state) });
      this.contactState = state;
      const r = await fetch(`${env.GRAPH_API_BASE}/v24.0/${o.pnid}/messages`, {
        method: "POST",
        headers: { authorization: `Bearer ${env.WHATSAPP_ACCESS_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ messaging_product: "whatsapp", to: o.to, type: "text", text: { body: o.body }, context: { message_id: o.reply_to } }),
      });
      const sent = await r.json();
      // Like wa-edge: the reply goes into the contact's history, queued in storage first, then
      // to KV.
      const id = sent?.messages?.[0]?.id ?? "unsent";
      const mk = await hashId(contactKey, "message", id);
      const record = { id, direction: "outbound", at: now, type: "text", text: o.body };
      const q = `q:c:${c}:m:${mk}`;
      const options = { expiration: now + 30 * DAY, metadata: { t: now, d: "out" } };
      await storage.put({ [q]: JSON.stringify({ v: JSON.stringify(record), o: options }) });
      await storage.delete([key]);
      await env.WHATSAPP_KV.put(`c:${c}:m:${mk}`, JSON.stringify(record), options);
      await storage.delete([q]);
      // Like wa-edge: a log line per send, with the contact's keyed hash only.
      console.log(`sent default_reply to contact ${c}`);
    }
    // Like wa-edge: the next wake is when the oldest dedupe marker expires (8 days).
    await this.#wake(now + 8 * DAY);
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname !== "/webhook" || request.method !== "POST") return refuse(404, "not_found", "no such endpoint");
    const body = await request.arrayBuffer();
    if (body.byteLength > 3 * 1024 * 1024) return refuse(413, "payload_too_large", "body is larger than this endpoint accepts");
    const header = request.headers.get("x-hub-signature-256");
    // Like wa-edge: one log line per answer (its route, status and why; no personal data).
    if (!header) {
      console.log("webhook -> 401: rejected: missing_signature");
      return refuse(401, "missing_signature", "X-Hub-Signature-256 is required");
    }
    const m = /^sha256=([0-9a-f]{64})$/.exec(header);
    if (!m) {
      console.log("webhook -> 403: rejected: malformed_signature");
      return refuse(403, "malformed_signature", "X-Hub-Signature-256 is not sha256=<64 hex>");
    }
    const appKey = await hmacKey(env.WHATSAPP_APP_SECRET);
    const ok = await crypto.subtle.verify("HMAC", appKey, hexToBytes(m[1]), body);
    if (!ok) {
      console.log("webhook -> 403: rejected: signature_mismatch");
      return refuse(403, "signature_mismatch", "the signature does not match the body");
    }
    let payload;
    try {
      payload = JSON.parse(new TextDecoder().decode(body));
    } catch {
      console.log("webhook -> 200: signed but unparseable");
      return answer(200, { status: "ignored" });
    }
    const contactKey = await hmacKey(env.CONTACT_KEY_SECRET);
    const now = Math.floor(Date.now() / 1000);
    const persons = new Map();
    const writes = [];
    for (const entry of payload.entry ?? []) {
      for (const change of entry.changes ?? []) {
        if (change.field !== "messages" || !change.value) continue;
        const pnid = change.value.metadata?.phone_number_id;
        for (const msg of change.value.messages ?? []) {
          const c = await hashId(contactKey, "contact", msg.from);
          const mk = await hashId(contactKey, "message", msg.id);
          const number = await hashId(contactKey, "number", pnid ?? "");
          const p = persons.get(c) ?? { items: [], numbers: new Set() };
          p.items.push({ msg, pnid, mk, number });
          p.numbers.add(number);
          persons.set(c, p);
        }
        for (const st of change.value.statuses ?? []) {
          const c = await hashId(contactKey, "contact", st.recipient_id);
          const mk = await hashId(contactKey, "message", st.id);
          const at = Number(st.timestamp) || now;
          writes.push([`c:${c}:s:${mk}:${st.status}`, JSON.stringify({ id: st.id, status: st.status, at }), { expiration: at + 30 * DAY, metadata: { t: at, s: st.status } }]);
        }
      }
    }
    const calls = [...persons].map(([c, p]) =>
      env.PERSON.getByName(c).serve(JSON.stringify({ contact: c, items: p.items, numbers: [...p.numbers] })),
    );
    try {
      await Promise.all([...calls, ...writes.map(([k, v, o]) => env.WHATSAPP_KV.put(k, v, o))]);
    } catch {
      return refuse(500, "storage_unavailable", "authority failed");
    }
    console.log(`webhook -> 200: delivery {"stored":${writes.length},"persons":${persons.size}}; ${persons.size} person(s); `);
    return answer(200, { status: "ok" });
  },
};
