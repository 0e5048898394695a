// The reference: the same webhook work written the way a Cloudflare user would write it in
// JavaScript. WebCrypto HMAC over the raw body, JSON.parse, the same KV reads and writes, the same
// status codes and replies. It is what wa-edge is compared against, not a second product: it
// keeps the same storage pattern (one bulk read, record + state + marker per message, one write
// per status) so that the comparison is about the language and runtime, not the design.
const enc = new TextEncoder();
const DAY = 86400;
const STOP = new Set(["stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout", "parar", "baja"]);

async function hmacKey(secret) {
  return crypto.subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
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

export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname !== "/webhook" || request.method !== "POST") return new Response("not found", { status: 404 });
    const body = await request.arrayBuffer();
    if (body.byteLength > 3 * 1024 * 1024) return new Response("too large", { status: 413 });
    const header = request.headers.get("x-hub-signature-256");
    if (!header) return new Response("missing", { status: 401 });
    const m = /^sha256=([0-9a-f]{64})$/.exec(header);
    if (!m) return new Response("malformed", { status: 403 });
    const appKey = await hmacKey(env.WHATSAPP_APP_SECRET);
    const ok = await crypto.subtle.verify("HMAC", appKey, hexToBytes(m[1]), body);
    if (!ok) return new Response("mismatch", { status: 403 });
    let payload;
    try {
      payload = JSON.parse(new TextDecoder().decode(body));
    } catch {
      return Response.json({ status: "ignored" });
    }
    const contactKey = await hmacKey(env.CONTACT_KEY_SECRET);
    const now = Math.floor(Date.now() / 1000);
    const messages = [];
    const statuses = [];
    for (const entry of payload.entry ?? []) {
      for (const change of entry.changes ?? []) {
        if (change.field !== "messages" || !change.value) continue;
        const pnid = change.value.metadata?.phone_number_id;
        for (const msg of change.value.messages ?? []) messages.push({ msg, pnid });
        for (const st of change.value.statuses ?? []) statuses.push(st);
      }
    }
    const prepared = [];
    const wanted = [];
    for (const { msg, pnid } of messages) {
      const c = await hashId(contactKey, "contact", msg.from);
      const mk = await hashId(contactKey, "message", msg.id);
      prepared.push({ msg, pnid, c, mk });
      wanted.push(`d:m:${mk}`, `consent:${c}`, `c:${c}:state`);
    }
    const found = new Map();
    for (let i = 0; i < wanted.length; i += 100) {
      const got = await env.WHATSAPP_KV.get(wanted.slice(i, i + 100));
      for (const [k, v] of got) found.set(k, v);
    }
    const writes = [];
    const outbox = [];
    for (const { msg, pnid, c, mk } of prepared) {
      if (found.get(`d:m:${mk}`)) continue;
      const at = Number(msg.timestamp) || now;
      const text = msg.text?.body ?? "";
      const norm = text.trim().toLowerCase().replace(/[^\p{L}\p{N} -]/gu, "").trim();
      let action = null;
      if (STOP.has(norm)) {
        const consent = JSON.parse(found.get(`consent:${c}`) ?? '{"status":"unknown","history":[]}');
        if (consent.status !== "opted_out") {
          consent.status = "opted_out";
          consent.history.push({ status: "opted_out", at, source: "keyword", message_id: msg.id });
          writes.push([`consent:${c}`, JSON.stringify(consent), {}]);
          outbox.push({ to: msg.from, pnid, body: env.OPT_OUT_CONFIRMATION ?? "unsubscribed", reply_to: msg.id });
          action = "opted_out";
        }
      }
      const state = JSON.parse(found.get(`c:${c}:state`) ?? "{}");
      state.last_inbound = Math.max(state.last_inbound ?? 0, at);
      if (!action && env.DEFAULT_REPLY && now - at < DAY && !(state.last_sent > now - 6)) {
        outbox.push({ to: msg.from, pnid, body: env.DEFAULT_REPLY, reply_to: msg.id });
        state.last_sent = now;
        action = "default_reply";
      }
      const record = { id: msg.id, direction: "inbound", at, type: msg.type, text, action };
      writes.push([`c:${c}:m:${mk}`, JSON.stringify(record), { expiration: at + 30 * DAY, metadata: { t: at, d: "in" } }]);
      writes.push([`c:${c}:state`, JSON.stringify(state), { expiration: now + 2 * DAY }]);
      writes.push([`d:m:${mk}`, "1", { expiration: now + 8 * DAY }]);
    }
    for (const st of statuses) {
      const c = await hashId(contactKey, "contact", st.recipient_id);
      const mk = await hashId(contactKey, "message", st.id);
      const at = Number(st.timestamp) || now;
      writes.push([`c:${c}:s:${mk}:${st.status}`, JSON.stringify({ id: st.id, status: st.status, at }), { expiration: at + 30 * DAY, metadata: { t: at, s: st.status } }]);
    }
    for (const [k, v, opts] of writes) await env.WHATSAPP_KV.put(k, v, opts);
    if (outbox.length) {
      ctx.waitUntil(
        Promise.all(
          outbox.map((o) =>
            fetch(`${env.GRAPH_API_BASE}/v24.0/${o.pnid}/messages`, {
              method: "POST",
              headers: { authorization: `Bearer ${env.WHATSAPP_ACCESS_TOKEN}`, "content-type": "application/json" },
              body: JSON.stringify({ messaging_product: "whatsapp", to: o.to, type: "text", text: { body: o.body }, context: { message_id: o.reply_to } }),
            })
              .then((r) => r.json())
              .then(async (sent) => {
                // Like wa-edge: the reply goes into the contact's history (one more write).
                const id = sent?.messages?.[0]?.id ?? "unsent";
                const c = await hashId(contactKey, "contact", o.to);
                const mk = await hashId(contactKey, "message", id);
                const record = { id, direction: "outbound", at: now, type: "text", text: o.body };
                await env.WHATSAPP_KV.put(`c:${c}:m:${mk}`, JSON.stringify(record), { expiration: now + 30 * DAY, metadata: { t: now, d: "out" } });
              }),
          ),
        ),
      );
    }
    return Response.json({ status: "ok" });
  },
};
