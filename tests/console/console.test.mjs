// The operator console in a real browser: Debian's Chromium driven by playwright-core, against
// the built worker on workerd with local KV and Durable Objects, seeded through signed webhooks
// as Meta sends them, with a fake Graph API on 127.0.0.1 that records every send. axe-core runs
// in each view. Screenshots go to tests/console/screenshots/ (git-ignored).
//
// node --test tests/console/   (npm test runs it; CHROMIUM_BIN names the browser)
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { chromium } from "playwright-core";
import { root, sign, startWorker, stateDir } from "../node/worker.mjs";

const APP_SECRET = "console-app-secret";
const ADMIN_TOKEN = "console-admin-token";
const VIEWER_TOKEN = "console-viewer-token";
const SEND_TOKEN = "console-send-token";
const NUMBER = "106540352242922";
const PAUSED_NUMBER = "106540352242999";
const DAY = 86_400;
const now = Math.floor(Date.now() / 1000);
const shots = path.join(root, "tests/console/screenshots");
const axeSource = fs.readFileSync(path.join(root, "node_modules/axe-core/axe.min.js"), "utf8");

// Who the seed makes: three STOPs two days ago (one of them comes back today), one STOP today,
// one marketing opt-out by button today, one person who only wrote.
const people = {
  ann: "15551110001",
  ben: "15551110002",
  cai: "15551110003",
  dev: "447700900123",
  eve: "15551110005",
  fay: "15551110006",
};
// A campaign's burst: 20 people send STOP in the same second, three days ago, all at once.
const burst = Array.from({ length: 20 }, (_, i) => `1555222${String(i).padStart(4, "0")}`);
const dayOf = (t) => new Date(t * 1000).toISOString().slice(0, 10);

// ---- the fake Graph API: records every request, answers like Meta ----
const graphRequests = [];
const graph = http.createServer((req, res) => {
  let body = "";
  req.on("data", (d) => (body += d));
  req.on("end", () => {
    graphRequests.push({ url: req.url, body: body ? JSON.parse(body) : null });
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ messaging_product: "whatsapp", messages: [{ id: `wamid.G${graphRequests.length}` }] }));
  });
});
await new Promise((ok) => graph.listen(0, "127.0.0.1", ok));

let worker;
let browser;
let persist;

const envelope = (field, value) => JSON.stringify({ object: "whatsapp_business_account", entry: [{ id: "102290129340398", time: now, changes: [{ field, value }] }] });
const textFrom = (wa, id, at, body) =>
  envelope("messages", {
    messaging_product: "whatsapp",
    metadata: { display_phone_number: "15550783881", phone_number_id: NUMBER },
    contacts: [{ profile: { name: "Customer" }, wa_id: wa }],
    messages: [{ from: wa, id, timestamp: String(at), type: "text", text: { body } }],
  });
const stopPromotions = (wa, id, at) =>
  envelope("messages", {
    messaging_product: "whatsapp",
    metadata: { display_phone_number: "15550783881", phone_number_id: NUMBER },
    contacts: [{ profile: { name: "Customer" }, wa_id: wa }],
    messages: [{ from: wa, id, timestamp: String(at), type: "button", button: { payload: "Stop promotions", text: "Stop promotions" } }],
  });

const deliver = async (body) => {
  const r = await fetch(`${worker.base}/webhook`, { method: "POST", headers: { "content-type": "application/json", "x-hub-signature-256": sign(APP_SECRET, body) }, body });
  assert.equal(r.status, 200, await r.text());
};
const admin = async (method, route, body) => {
  const r = await fetch(`${worker.base}${route}`, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, json: await r.json().catch(() => null) };
};

before(async () => {
  fs.mkdirSync(shots, { recursive: true });
  persist = stateDir("console");
  worker = await startWorker({
    persist,
    vars: {
      WHATSAPP_APP_SECRET: APP_SECRET,
      WHATSAPP_VERIFY_TOKEN: "console-verify-token",
      WHATSAPP_ACCESS_TOKEN: "console-access-token",
      ADMIN_TOKEN,
      VIEWER_TOKEN,
      SEND_TOKEN,
      CONTACT_KEY_SECRET: "console-contact-key-secret",
      GRAPH_API_BASE: `http://127.0.0.1:${graph.address().port}`,
      MARK_AS_READ: "false",
      AUTO_REPLY_RULES: "[]",
    },
  });
  const twoDaysAgo = now - 2 * DAY;
  await Promise.all(burst.map((wa, i) => deliver(textFrom(wa, `wamid.burst${i}`, now - 3 * DAY, "STOP"))));
  await deliver(textFrom(people.ann, "wamid.ann1", twoDaysAgo, "STOP"));
  await deliver(textFrom(people.ben, "wamid.ben1", twoDaysAgo + 60, "Stop"));
  await deliver(textFrom(people.cai, "wamid.cai1", twoDaysAgo + 120, "unsubscribe"));
  await deliver(textFrom(people.cai, "wamid.cai2", now - 600, "START"));
  await deliver(textFrom(people.dev, "wamid.dev1", now - 500, "PARAR"));
  await deliver(stopPromotions(people.eve, "wamid.eve1", now - 400));
  await deliver(textFrom(people.fay, "wamid.fay1", now - 300, "Where is my order 5521?"));
  await deliver(envelope("phone_number_quality_update", { display_phone_number: "15550783881", event: "FLAGGED", current_limit: "TIER_1K" }));
  await deliver(envelope("message_template_status_update", { event: "REJECTED", message_template_id: 594425479261597, message_template_name: "summer_sale", message_template_language: "en_US", reason: "INCORRECT_CATEGORY" }));
  await deliver(envelope("account_alerts", { entity_type: "WABA", entity_id: "102290129340398", alert_info: { alert_severity: "WARNING", alert_status: "ACTIVE", alert_type: "INCREASED_CAPABILITIES_ELIGIBILITY_DEFERRED", alert_description: "Your business is not yet eligible for a higher messaging limit." } }));
  await deliver(
    envelope("messages", {
      messaging_product: "whatsapp",
      metadata: { display_phone_number: "15550783882", phone_number_id: PAUSED_NUMBER },
      statuses: [{ id: "wamid.OUT1", status: "failed", timestamp: String(now - 200), recipient_id: people.fay, errors: [{ code: 131048, title: "Spam rate limit hit" }] }],
    }),
  );
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_BIN || "/usr/bin/chromium",
    headless: true,
    // A closed network: Chromium's own background connections would only be refused.
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
  worker?.kill();
  graph.close();
  if (persist) fs.rmSync(persist, { recursive: true, force: true });
});

/** A fresh browser context (no cookies) on the console; a phone's screen when asked. */
const open = async (phone = false) => {
  const context = await browser.newContext(phone ? { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true } : { viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  // A page not signed in asks for its session and gets a 401: that is not a problem. A refused
  // script or style (the policy), an exception, any other error is.
  page.on("console", (m) => m.type() === "error" && !/status of 401/.test(m.text()) && problems.push(m.text()));
  page.on("pageerror", (e) => problems.push(String(e)));
  await page.goto(`${worker.base}/console`);
  return { context, page, problems };
};

const signIn = async (page, token) => {
  await page.getByLabel("Token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Overview" }).waitFor();
};

/** axe-core in the page: no serious or critical problem. */
const accessible = async (page, what) => {
  // Evaluated through the browser's debugging protocol: the page's policy refuses any script it
  // did not ship, as it should.
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => await window.axe.run(document, { resultTypes: ["violations"] }));
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`), [], `${what}: accessibility`);
};

const shot = (page, name) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });

/** What the page itself would send: `fetch` from inside it, with or without the CSRF token. */
const fromPage = (page, method, route, body, withCsrf = true) =>
  page.evaluate(
    async ({ method, route, body, withCsrf }) => {
      const session = await (await fetch("/console/session")).json();
      const headers = { "content-type": "application/json" };
      if (withCsrf) headers["x-csrf-token"] = session.csrf;
      const r = await fetch(route, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: r.status, json: await r.json().catch(() => null) };
    },
    { method, route, body, withCsrf },
  );

test("signing in shows the overview: counts, the chart and the latest changes match the seeded webhooks", async () => {
  const { context, page, problems } = await open();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await accessible(page, "sign-in");
  await signIn(page, ADMIN_TOKEN);
  await page.locator("#count-opted_in").filter({ hasText: /^\d+$/ }).waitFor();
  assert.equal(await page.textContent("#count-opted_out_all"), "23", "the burst, ann, ben and dev");
  assert.equal(await page.textContent("#count-opted_out_marketing"), "1", "eve");
  assert.equal(await page.textContent("#count-opted_in"), "1", "cai came back");
  const bars = await page.$$eval("#chart rect", (rs) => rs.map((r) => [r.dataset.date, r.dataset.kind, Number(r.dataset.value)]));
  assert.equal(bars.length, 60, "30 days, two bars each");
  const value = (date, kind) => bars.find(([d, k]) => d === date && k === kind)?.[2];
  assert.equal(value(dayOf(now - 3 * DAY), "out"), 20, "every STOP of the burst");
  assert.equal(value(dayOf(now - 2 * DAY), "out"), 3);
  assert.equal(value(dayOf(now - 2 * DAY), "in"), 0);
  // Today: dev's STOP and eve's button, and cai's START (unless the seed crossed midnight).
  const today = bars.filter(([d]) => d === dayOf(now) || d === dayOf(now - 600));
  assert.equal(today.filter(([, k]) => k === "out").reduce((n, [, , v]) => n + v, 0), 2);
  assert.equal(today.filter(([, k]) => k === "in").reduce((n, [, , v]) => n + v, 0), 1);
  assert.equal(bars.reduce((n, [, , v]) => n + v, 0), 26, "nothing else charted");
  const latest = await page.$$eval("#latest-table tbody tr", (rows) => rows.map((r) => r.innerText));
  assert.equal(latest.length, 20, "the newest 20 changes");
  assert.match(latest.join("\n"), /\+44 770 ••• 0123/);
  assert.match(latest.join("\n"), /\+1 555 ••• 0001/);
  for (const number of [...Object.values(people), ...burst]) assert.ok(!(await page.content()).includes(number), `no whole number on the overview: ${number}`);
  assert.match(await page.textContent("#quality-table"), /FLAGGED/);
  assert.match(await page.textContent("#quality-table"), /TIER_1K/);
  assert.match(await page.textContent("#templates-table"), /summer_sale/);
  assert.match(await page.textContent("#alerts-table"), /not yet eligible/);
  assert.match(await page.textContent("#paused-list"), new RegExp(PAUSED_NUMBER));
  assert.match(await page.textContent("#paused-list"), /Marketing paused/);
  await accessible(page, "overview");
  await shot(page, "overview");
  // The top of the overview, as the README shows it (docs/console-overview.png).
  await page.screenshot({ path: path.join(shots, "overview-top.png"), fullPage: true, clip: { x: 0, y: 0, width: 1280, height: 1500 } });
  assert.deepEqual(problems, []);
  await context.close();
});

test("the overview is usable on a phone: one column, nothing wider than the screen", async () => {
  const { context, page } = await open(true);
  await signIn(page, VIEWER_TOKEN);
  await page.locator("#count-opted_in").filter({ hasText: /^\d+$/ }).waitFor();
  const [scroll, width] = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  assert.ok(scroll <= width, `page ${scroll} px wide on a ${width} px screen`);
  await accessible(page, "overview on a phone");
  await shot(page, "overview-phone");
  await context.close();
});

test("a person's page shows their ledger, ids and messages, and records consent given off WhatsApp", async () => {
  const { context, page, problems } = await open();
  await signIn(page, ADMIN_TOKEN);
  await page.getByRole("link", { name: "Person" }).click();
  await page.getByLabel("Phone number or BSUID").fill("+1 555 111 0003");
  await page.getByRole("button", { name: "Look up" }).click();
  await page.locator("#person-view").waitFor();
  assert.equal(await page.textContent("#person-status"), "opted in");
  assert.equal(await page.textContent("#person-ids"), people.cai);
  const ledger = await page.$$eval("#ledger-table tbody tr", (rows) => rows.map((r) => r.innerText));
  assert.equal(ledger.length, 2);
  assert.match(ledger[0], /opted in.*keyword.*start/is);
  assert.match(ledger[1], /opted out.*keyword.*unsubscribe/is);
  const messages = await page.textContent("#messages-table");
  assert.match(messages, /START/);
  assert.match(messages, /unsubscribe/);
  await accessible(page, "person");
  await page.getByLabel("Consent to record").selectOption("opted_out");
  await page.getByLabel("Scope").selectOption("marketing");
  await page.getByLabel("Evidence (where and how)").fill("asked at the till, store 12");
  await page.getByRole("button", { name: "Record" }).click();
  await page.locator("#ledger-table tbody tr", { hasText: "store 12" }).waitFor();
  assert.equal(await page.textContent("#person-status"), "opted out of marketing");
  const { json } = await admin("POST", "/v1/contacts/lookup", { wa_id: people.cai });
  assert.equal(json.status, "opted_out");
  assert.equal(json.history.at(-1).evidence, "asked at the till, store 12");
  await shot(page, "person");
  assert.deepEqual(problems, []);
  await context.close();
});

test("resuming a paused number from the console lets it send again", async () => {
  const { context, page } = await open();
  await signIn(page, ADMIN_TOKEN);
  await page.locator("#paused-list li").first().waitFor();
  await page.getByRole("button", { name: "Resume sending" }).click();
  await page.getByText("Sending resumes.").waitFor();
  assert.equal(await page.locator("#paused-list li").count(), 0);
  const { json } = await admin("GET", "/v1/account");
  assert.deepEqual(json.paused, []);
  assert.deepEqual(json.marketing_paused, []);
  await context.close();
});

test("the emergency stop refuses a send through the gateway, and resuming allows it", async () => {
  const { context, page } = await open();
  await signIn(page, ADMIN_TOKEN);
  await page.getByLabel("Reason for the emergency stop").fill("access token leaked in a screenshot");
  await page.getByRole("button", { name: "Stop all sending" }).click();
  await page.getByRole("alert").filter({ hasText: "Every send is stopped since" }).waitFor();
  const send = () =>
    fetch(`${worker.base}/v24.0/${NUMBER}/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${SEND_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ messaging_product: "whatsapp", to: people.fay, type: "text", text: { body: "Your order 5521 has shipped" } }),
    }).then(async (r) => ({ status: r.status, json: await r.json() }));
  const before = graphRequests.length;
  const refused = await send();
  assert.equal(refused.status, 400);
  assert.equal(refused.json.error.code, 900007);
  assert.equal(graphRequests.length, before, "nothing reached Meta while stopped");
  await accessible(page, "stopped");
  await shot(page, "stopped");
  await page.getByRole("button", { name: "Lift the emergency stop and resume" }).click();
  await page.getByText("The emergency stop is lifted").waitFor();
  assert.ok(await page.locator("#stop-banner").isHidden());
  // The refusal is counted among today's uses of the guards.
  await page.reload();
  await page.locator("#guards dt", { hasText: "Sends refused today by the emergency stop" }).waitFor();
  assert.match(await page.textContent("#guards"), /refused today by the emergency stop1/);
  const sent = await send();
  assert.equal(sent.status, 200, JSON.stringify(sent.json));
  assert.ok(graphRequests.slice(before).some((r) => r.body?.text?.body === "Your order 5521 has shipped"));
  await context.close();
});

test("a viewer sees everything and can neither erase, resume nor stop", async () => {
  const { context, page } = await open();
  await signIn(page, VIEWER_TOKEN);
  assert.equal(await page.textContent("#scope"), "Viewer (read only)");
  assert.ok(await page.locator("#stop-form").isHidden());
  assert.ok(await page.locator("#resume").isHidden());
  await page.getByRole("link", { name: "Person" }).click();
  await page.getByLabel("Phone number or BSUID").fill(people.ann);
  await page.getByRole("button", { name: "Look up" }).click();
  await page.locator("#person-view").waitFor();
  assert.ok(await page.locator("#erase").isHidden(), "no erase button for a viewer");
  assert.ok(await page.locator("#record-form").isHidden());
  // And the API refuses what the page does not offer, CSRF token and all.
  for (const [method, route, body] of [
    ["POST", "/v1/contacts/erase", { wa_id: people.ann }],
    ["PUT", "/v1/account/pause", { reason: "viewer tries" }],
    ["DELETE", "/v1/account/pause", undefined],
    ["POST", "/v1/contacts/consent", { wa_id: people.ann, status: "opted_in", scope: "all", evidence: "x" }],
  ]) {
    const r = await fromPage(page, method, route, body);
    assert.equal(r.status, 403, `${method} ${route}`);
  }
  const { json: ann } = await admin("POST", "/v1/contacts/lookup", { wa_id: people.ann, view: "messages" });
  assert.equal(ann.messages.length, 1, "ann is not erased");
  const { json: account } = await admin("GET", "/v1/account");
  assert.equal(account.stopped, null, "nothing stopped");
  await context.close();
});

test("a change without the session's CSRF token is refused", async () => {
  const { context, page } = await open();
  await signIn(page, ADMIN_TOKEN);
  const without = await fromPage(page, "POST", "/v1/contacts/erase", { wa_id: people.ben }, false);
  assert.equal(without.status, 403);
  assert.equal(without.json.error, "csrf_token_invalid");
  const stop = await fromPage(page, "PUT", "/v1/account/pause", { reason: "no csrf" }, false);
  assert.equal(stop.status, 403);
  const { json } = await admin("POST", "/v1/contacts/lookup", { wa_id: people.ben, view: "messages" });
  assert.equal(json.messages.length, 1, "ben is not erased");
  await context.close();
});

test("a forged or expired cookie opens nothing", async () => {
  const { context, page } = await open();
  await signIn(page, VIEWER_TOKEN);
  const [real] = await context.cookies();
  assert.equal(real.name, "wa_console");
  assert.equal(real.httpOnly, true);
  assert.equal(real.sameSite, "Strict");
  // Forged: the viewer's cookie made to say admin.
  await context.clearCookies();
  await context.addCookies([{ ...real, value: real.value.replace(".viewer.", ".admin.") }]);
  await page.reload();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  // Expired: signed exactly as the worker signs (so only the expiry is wrong).
  const key = crypto.createHmac("sha256", ADMIN_TOKEN).update("wa-edge console session v1").digest();
  const payload = `v1.admin.${now - 60}.${"ab".repeat(16)}`;
  const expired = `${payload}.${crypto.createHmac("sha256", key).update(payload).digest("hex")}`;
  await context.clearCookies();
  await context.addCookies([{ ...real, value: expired }]);
  await page.reload();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  const r = await fetch(`${worker.base}/v1/account`, { headers: { cookie: `wa_console=${expired}` } });
  assert.equal(r.status, 401);
  // The same payload with a later expiry is what the worker would accept: the check is the expiry.
  const fresh = `v1.admin.${now + 600}.${"ab".repeat(16)}`;
  const ok = await fetch(`${worker.base}/v1/account`, { headers: { cookie: `wa_console=${fresh}.${crypto.createHmac("sha256", key).update(fresh).digest("hex")}` } });
  assert.equal(ok.status, 200);
  await context.close();
});

test("signing out ends the session, in the browser and for any copy of its cookie", async () => {
  const { context, page } = await open();
  await signIn(page, ADMIN_TOKEN);
  const [cookie] = await context.cookies();
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  assert.equal((await context.cookies()).length, 0);
  const replay = await fetch(`${worker.base}/v1/account`, { headers: { cookie: `wa_console=${cookie.value}` } });
  assert.equal(replay.status, 401);
  await context.close();
});

test("the CSV export holds the seeded records and nothing more", async () => {
  const { context, page } = await open();
  await signIn(page, ADMIN_TOKEN);
  await page.getByRole("link", { name: "Export" }).click();
  await accessible(page, "export");
  const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download CSV" }).click()]);
  const csv = fs.readFileSync(await download.path(), "utf8");
  await page.getByText(/records exported/).waitFor();
  const lines = csv.trim().split("\n");
  assert.equal(lines[0], "ids,status,scope,updated_at,change_at,change_status,change_scope,source,keyword,message_id,evidence,applied");
  const ids = new Set(lines.slice(1).map((l) => l.split(",")[0]));
  // fay only wrote: she has no consent record.
  assert.deepEqual([...ids].sort(), [people.ann, people.ben, people.cai, people.dev, people.eve, ...burst].sort());
  assert.ok(!csv.includes("Where is my order"), "no message text");
  assert.ok(!csv.includes(people.fay));
  const rows = lines.slice(1).map((l) => l.split(","));
  assert.ok(rows.some((r) => r[0] === people.eve && r[1] === "opted_out" && r[2] === "marketing" && r[7] === "button"));
  await shot(page, "export");
  await context.close();
});

test("erasing a person says what is kept, and keeps only that", async () => {
  const { context, page } = await open();
  await signIn(page, ADMIN_TOKEN);
  await page.getByRole("link", { name: "Person" }).click();
  await page.getByLabel("Phone number or BSUID").fill(people.ann);
  await page.getByRole("button", { name: "Look up" }).click();
  await page.locator("#person-view").waitFor();
  await page.getByRole("button", { name: "Erase this person…" }).click();
  assert.match(await page.textContent("#erase-confirm"), /Kept:.*suppression record/s);
  await accessible(page, "erase confirmation");
  await page.getByRole("button", { name: "Erase", exact: true }).click();
  await page.getByText(/Erased: 1 messages/).waitFor();
  assert.match(await page.textContent("#notice"), /opt-out is kept/);
  const { json: messages } = await admin("POST", "/v1/contacts/lookup", { wa_id: people.ann, view: "messages" });
  assert.equal(messages.messages.length, 0);
  const { json: consent } = await admin("POST", "/v1/contacts/lookup", { wa_id: people.ann });
  assert.equal(consent.status, "opted_out", "the suppression stays");
  await context.close();
});

test("no number and no message text reaches the worker's log, whatever the console did", async () => {
  const log = worker.log();
  assert.ok(log.includes("console session started"), "the log is the worker's");
  for (const number of [...Object.values(people), ...burst]) assert.ok(!log.includes(number), `a number in the log: ${number.slice(0, 4)}…`);
  for (const text of ["Where is my order", "asked at the till", "access token leaked"]) assert.ok(!log.includes(text), `in the log: ${text}`);
});
