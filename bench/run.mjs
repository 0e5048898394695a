// `npm run bench`: wa-edge, an equivalent JavaScript worker and a do-nothing worker, side by side
// in one run, each in real workerd (through Miniflare, no dev proxy) with its own local KV and
// Durable Objects (one per person, for both wa-edge and the JS reference).
// Load comes from this process on 127.0.0.1 only, bounded in count. Ratios matter, not absolutes.
import crypto from "node:crypto";
import http from "node:http";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { execFileSync } from "node:child_process";
import { COMPATIBILITY_DATE, buildEntry, miniflare, modulesOf } from "./worker-options.mjs";
import { cpuNs, mainCpuNs, workerdPids } from "./workerd-cpu.mjs";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const CONCURRENCY = 4;
// Requests before measuring: long enough that V8 has compiled (and tiered up) the code, so the
// steady state has no compilation in it. The first request is measured on its own. V8 moves a
// wasm function from its baseline compiler (Liftoff) to TurboFan only once the function has
// used up a budget of executed code, so code that runs once per request tiers up slowly: over
// a known contact's texts, TurboFan compilations went on until about the 3,000th request
// (`node bench/compile-trace.mjs`), and after 300 the measurement still held Liftoff code and
// the background compilations of the rest (about 100 µs per request on other threads).
// With local storage, 300: its SQLite work dominates those figures and moves ±30-60 % between
// runs anyway, and 3,000 status batches would be 150,000 local KV writes per worker and round.
// BENCH_WARMUP sets both.
const WARMUP = {
  memory: Number(process.env.BENCH_WARMUP ?? 3000),
  local: Number(process.env.BENCH_WARMUP ?? 300),
};
const SECRET = "bench-app-secret";
const PNID = "106540352242922";
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");

// A Graph API stand-in, so replies never leave the machine.
let graphCalls = 0;
const graph = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    graphCalls++;
    res.setHeader("content-type", "application/json");
    res.end(`{"messaging_product":"whatsapp","messages":[{"id":"wamid.BENCH${graphCalls}"}]}`);
  });
});
await new Promise((r) => graph.listen(0, "127.0.0.1", r));
const graphBase = `http://127.0.0.1:${graph.address().port}`;

const bindings = {
  WHATSAPP_APP_SECRET: SECRET,
  WHATSAPP_VERIFY_TOKEN: "bench-verify",
  WHATSAPP_ACCESS_TOKEN: "bench-token",
  ADMIN_TOKEN: "bench-admin",
  CONTACT_KEY_SECRET: "bench-contact-secret",
  GRAPH_API_BASE: graphBase,
  DEFAULT_REPLY: "Thanks, a person will answer soon.",
  OPT_OUT_CONFIRMATION: "You are unsubscribed. Reply START to subscribe again.",
  MARK_AS_READ: "false",
};

// BENCH_STORAGE: "memory" runs both workers over the same in-memory KV and Durable Object storage
// (bench/stand-ins.mjs), so the CPU measured is the worker's own; "local" over Miniflare's local
// KV and SQLite-backed storage inside workerd, as `npm start` runs; both by default.
const STORAGES = (process.env.BENCH_STORAGE ?? "memory,local").split(",").map((x) => x.trim()).filter(Boolean);
const WORKERS = {
  "wa-edge": () => ({
    modulesRoot: root,
    modules: modulesOf(path.join(root, "bench/wa-edge-entry.mjs")),
    durableObjects: { PERSON: "Person" },
  }),
  js: (storage) => ({
    modulesRoot: root,
    modules: modulesOf(path.join(root, storage === "memory" ? "bench/memory-js.mjs" : "bench/js-worker.mjs")),
    durableObjects: { PERSON: "Person" },
  }),
  floor: () => ({ modulesRoot: root, modules: modulesOf(path.join(root, "bench/floor.mjs")) }),
};
// BENCH_BASELINE=<dir of another build, inside this project> adds that build as "baseline" (e.g.
// the design before the per-person Durable Objects, to measure what the DO call costs in the
// same run). workerd only loads modules from under the project's root.
if (process.env.BENCH_BASELINE) {
  // The baseline runs as wa-edge does: bench/wa-edge-entry.mjs, pointed at its build.
  const entry = buildEntry(process.env.BENCH_BASELINE, "bench-entry.mjs");
  WORKERS.baseline = () => ({
    modulesRoot: root,
    modules: modulesOf(entry),
    durableObjects: { PERSON: "Person" },
  });
}

// ---- workloads: pre-generated, correctly signed, distinct deliveries ----
let seq = 0;
const now = () => Math.floor(Date.now() / 1000);
const sign = (body) => "sha256=" + crypto.createHmac("sha256", SECRET).update(body).digest("hex");
const uid = () => `${process.pid}${Date.now()}${seq++}`;
const contactId = () => `1555${String(seq++ % 1e7).padStart(7, "0")}`;
const envelope = (value) => ({ object: "whatsapp_business_account", entry: [{ id: "WABA", changes: [{ field: "messages", value }] }] });
const messagesValue = (from, messages, extra = {}) => ({
  messaging_product: "whatsapp",
  metadata: { display_phone_number: "15550009999", phone_number_id: PNID },
  contacts: [{ profile: { name: "Bench" }, wa_id: from }],
  messages,
  ...extra,
});
const text = (from, body) => ({ from, id: `wamid.B${uid()}`, timestamp: String(now()), type: "text", text: { body } });
const signed = (obj) => {
  const body = Buffer.from(JSON.stringify(obj));
  return { body, signature: sign(body) };
};
// Known contacts: 20 regular customers in turn, each about 165 texts over a run's 3,300
// requests. One contact sending them all made both workers' per-person state (a dedupe marker
// per message, kept 8 days) grow past anything a person sends in a week, and measured that.
const regulars = Array.from({ length: 20 }, contactId);
let turn = 0;
const known = () => regulars[turn++ % regulars.length];
const WORKLOADS = [
  { name: "text, new contact", n: 300, make: () => { const c = contactId(); return signed(envelope(messagesValue(c, [text(c, "hello, is my order on its way?")]))); } },
  { name: "text, known contact", n: 300, make: () => { const c = known(); return signed(envelope(messagesValue(c, [text(c, "and another question")]))); } },
  { name: "STOP", n: 300, make: () => { const c = contactId(); return signed(envelope(messagesValue(c, [text(c, "STOP")]))); } },
  {
    name: "status batch of 50", n: 100,
    make: () => signed(envelope({ messaging_product: "whatsapp", metadata: { phone_number_id: PNID },
      statuses: Array.from({ length: 50 }, (_, i) => ({ id: `wamid.S${uid()}`, status: ["sent", "delivered", "read"][i % 3], timestamp: String(now()), recipient_id: contactId() })) })),
  },
  {
    name: "2 entries x 3 messages", n: 150,
    make: () => {
      const c = contactId();
      const change = () => ({ field: "messages", value: messagesValue(c, [0, 1, 2].map(() => text(c, "batched"))) });
      return signed({ object: "whatsapp_business_account", entry: [{ id: "W", changes: [change()] }, { id: "W", changes: [change()] }] });
    },
  },
  { name: "bad signature", n: 300, expect: 403, make: () => { const c = contactId(); const d = signed(envelope(messagesValue(c, [text(c, "forged")]))); d.signature = sign(Buffer.from("other")); return d; } },
  // The large payloads warm up on their own counts (each request is 1-3 MB of load): with 20 and
  // 10, TurboFan was still compiling during their measurement and all-thread CPU read 1.7-2x
  // JS's where the main thread read 1.1-1.3x.
  { name: "1 MB payload", n: 60, warmup: 300, make: () => padded(1 << 20) },
  { name: "3 MB payload", n: 20, warmup: 100, make: () => padded(3 * (1 << 20) - 4096) },
];
function padded(size) {
  const c = contactId();
  const value = messagesValue(c, [text(c, "big")], { padding: "" });
  const base = JSON.stringify(envelope(value)).length;
  value.padding = "x".repeat(Math.max(0, size - base));
  return signed(envelope(value));
}

// BENCH_ONLY="1 MB,3 MB" runs only the workloads whose names contain one of the parts.
const only = (process.env.BENCH_ONLY ?? "").split(",").map((x) => x.trim()).filter(Boolean);
if (only.length) WORKLOADS.splice(0, WORKLOADS.length, ...WORKLOADS.filter((w) => only.some((o) => w.name.includes(o))));

// ---- measurement ----

// One keep-alive agent per worker run, destroyed with it: shared across runs, a pooled socket
// to a workerd that had just been disposed could be picked for the next run's first request on
// the same port ("socket hang up", seen twice in full local runs).
// A request sent on a pooled connection just as the server closes it for idleness fails with a
// reset before the server read it (Node's documented keep-alive race; it stopped some local
// runs with "socket hang up" and nothing in workerd's stderr): sent again once, on a fresh
// connection, and counted (`resent`, printed with the run).
let resent = 0;
function post(url, d, agent, retried = false) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.request(url, { method: "POST", agent, headers: { "content-type": "application/json", "content-length": d.body.length, "x-hub-signature-256": d.signature } }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode, ms: Number(process.hrtime.bigint() - t0) / 1e6 }));
    });
    req.setTimeout(30_000, () => req.destroy(new Error("timeout")));
    req.on("error", (e) => {
      if (!retried && req.reusedSocket && e.code === "ECONNRESET") {
        resent++;
        resolve(post(url, d, agent, true));
      } else {
        reject(new Error(`${e.message} (${e.code ?? "no code"}, ${req.reusedSocket ? "a reused" : "a new"} connection)`));
      }
    });
    req.end(d.body);
  });
}

/// The end of the current run's workerd log (see `handleStructuredLogs` below).
let stderrTail = "";
/// The current run's Miniflare, to dispose of if the run fails.
let current = null;
/// Where the current run is (first request, warm-up or measured, and how many were answered).
let phase = "";

async function run(name, workload, storage) {
  stderrTail = "";
  phase = "starting";
  try {
    return await measure(name, workload, storage);
  } catch (e) {
    if (e.wrongAnswers) throw e;
    // The failed run's workerd goes with it.
    await current?.dispose().catch(() => {});
    current = null;
    throw new Error(`${name}, ${workload.name}, ${storage} storage, ${phase}: ${e.message}\nworkerd's stderr, last lines:\n${stderrTail.trim() || "(nothing)"}`);
  }
}

async function measure(name, workload, storage) {
  const before = new Set(workerdPids());
  const t0 = performance.now();
  const mf = miniflare({
    ...WORKERS[name](storage),
    kvNamespaces: ["WHATSAPP_KV"],
    // Which storage the wa-edge entry gives its worker (the JS worker's is chosen by its script).
    bindings: { ...bindings, BENCH_STORAGE: storage },
    compatibilityDate: COMPATIBILITY_DATE,
    // The workers' logs are not printed: that would measure the terminal. The last lines are
    // kept, to say why if a request fails (a reset connection stopped some local-storage runs,
    // with nothing to tell its cause).
    handleStructuredLogs(log) {
      stderrTail = (stderrTail + `${log.level}: ${log.message}\n`).slice(-4000);
    },
  });
  current = mf;
  const url = new URL("/webhook", await mf.ready).toString();
  const pid = workerdPids().find((p) => !before.has(p));
  if (pid) execFileSync("taskset", ["-pc", "0", String(pid)], { stdio: "ignore" });
  const n = Math.max(2, Math.round(workload.n * SCALE));
  const requests = Array.from({ length: n }, () => workload.make());
  // The first request of the fresh isolate, on its own: all threads (compilation included) and
  // the main thread.
  const first = workload.make();
  const [firstAll0, firstMain0] = pid ? [cpuNs(pid), mainCpuNs(pid)] : [0, 0];
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  phase = "first request";
  const warm = await post(url, first, agent);
  const firstCpuMs = pid ? (cpuNs(pid) - firstAll0) / 1e6 : NaN;
  const firstMainMs = pid ? (mainCpuNs(pid) - firstMain0) / 1e6 : NaN;
  const startupMs = performance.now() - t0;
  // Warm up until compilation is out of the steady state, then measure.
  const warmups = Math.round((workload.warmup ?? WARMUP[storage]) * Math.min(1, SCALE));
  let left = warmups;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (left-- > 0) {
      await post(url, workload.make(), agent);
      phase = `warm-up, ${warmups - left} sent`;
    }
  }));
  // What the worker asks of the stand-ins while measured (memory storage; not the floor).
  const counted = storage === "memory" && name !== "floor";
  const ops0 = counted ? await opCounts(url, agent) : {};
  const cpu0 = pid ? cpuNs(pid) : 0;
  const main0 = pid ? mainCpuNs(pid) : 0;
  const start = performance.now();
  const latencies = [];
  const statuses = new Map();
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < n) {
      const r = await post(url, requests[next++], agent);
      phase = `measured, ${latencies.length + 1} answered`;
      latencies.push(r.ms);
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    }
  }));
  const wall = (performance.now() - start) / 1000;
  const cpu = pid ? (cpuNs(pid) - cpu0) / n / 1000 : NaN;
  const mainCpu = pid ? (mainCpuNs(pid) - main0) / n / 1000 : NaN;
  const ops1 = counted ? await opCounts(url, agent) : {};
  const ops = Object.fromEntries(Object.keys(ops1).map((k) => [k, (ops1[k] - (ops0[k] ?? 0)) / n]));
  agent.destroy();
  await mf.dispose();
  current = null;
  latencies.sort((a, b) => a - b);
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  // A benchmark of wrong answers measures nothing: every answer must be the expected one (the
  // floor answers everything with 200, since it checks nothing).
  const expected = name === "floor" ? 200 : (workload.expect ?? 200);
  const wrong = [...statuses.keys(), warm.status].filter((s) => s !== expected);
  if (wrong.length) {
    const e = new Error(`${workload.name} on ${name} (${storage} storage): expected every answer to be ${expected}, got ${JSON.stringify(Object.fromEntries(statuses))} (first ${warm.status})`);
    // Wrong answers stop the benchmark: they are never measured again.
    e.wrongAnswers = true;
    throw e;
  }
  return { rps: n / wall, p50: q(0.5), p99: q(0.99), cpuUs: cpu, mainCpuUs: mainCpu, firstCpuMs, firstMainMs, startupMs, firstStatus: warm.status, statuses: Object.fromEntries(statuses), ops };
}

/// The stand-ins' operation counts so far (bench/stand-ins.mjs), from the worker's isolate.
function opCounts(url, agent) {
  return new Promise((resolve, reject) => {
    http.get(new URL("/__bench/ops", url), { agent }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d) => (text += d)).on("end", () => {
        try {
          resolve(JSON.parse(text));
        } catch {
          reject(new Error(`/__bench/ops answered ${res.statusCode}: ${text.slice(0, 100)}`));
        }
      });
    }).on("error", reject);
  });
}

/// "KV 1 get, 1 put; storage 1 get, 3 put; alarm 1 set; object 2 serve, 1 alarm", from counts
/// per request (bench/stand-ins.mjs names), leaving out what is under 0.05.
function describeOps(ops) {
  const groups = [["kv", "KV"], ["storage", "storage"], ["alarm", "alarm"], ["object", "object"]];
  return groups.map(([prefix, label]) => {
    const parts = Object.entries(ops)
      .filter(([k, v]) => k.startsWith(`${prefix}.`) && v >= 0.05)
      .map(([k, v]) => `${Number(v.toFixed(1))} ${k.slice(prefix.length + 1)}`);
    return parts.length ? `${label} ${parts.join(", ")}` : "";
  }).filter(Boolean).join("; ");
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const spread = (xs) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;

const results = {};
const rerun = [];
for (let round = 0; round < ROUNDS; round++) {
  for (const storage of STORAGES) {
    for (const w of WORKLOADS) {
      for (const name of Object.keys(WORKERS)) {
        let r;
        try {
          r = await run(name, w, storage);
        } catch (e) {
          if (e.wrongAnswers) throw e;
          // Once per run, a whole worker's run is measured again in a fresh workerd (a reset
          // connection has stopped a few full runs after 20 minutes): said here and in the output.
          process.stderr.write(`round ${round + 1}: measured again after: ${e.message}\n`);
          rerun.push(`${name}, ${w.name}, ${storage} storage, round ${round + 1}: ${e.message.split("\n")[0]}`);
          r = await run(name, w, storage);
        }
        (((results[storage] ??= {})[w.name] ??= {})[name] ??= []).push(r);
        process.stderr.write(`round ${round + 1} ${storage.padEnd(6)} ${w.name.padEnd(24)} ${name.padEnd(8)} ${r.rps.toFixed(0).padStart(6)} req/s  cpu ${r.cpuUs.toFixed(0).padStart(6)} µs  main ${r.mainCpuUs.toFixed(0).padStart(6)} µs  first ${r.firstCpuMs.toFixed(1)} ms  ${JSON.stringify(r.statuses)}\n`);
      }
    }
  }
}

// ---- KV operations per request (counted natively over the same core, see examples/kv_ops.rs) ----
let kvOps = {};
let crowd = null;
try {
  kvOps = JSON.parse(fs.readFileSync(path.join(root, "target/bench-kv-ops.json"), "utf8"));
  crowd = kvOps["one number, many people"];
  kvOps = kvOps.deliveries ?? {};
} catch {}

const wasm = fs.readFileSync(path.join(root, "build/index_bg.wasm"));
const gz = zlib.gzipSync(wasm, { level: 9 }).length;
const compile = [];
for (let i = 0; i < 5; i++) {
  const t = performance.now();
  try {
    await WebAssembly.compile(wasm);
    compile.push(performance.now() - t);
  } catch {
    break;
  }
}

const lines = [];
const date = new Date().toISOString().slice(0, 10);
const ratio = (a, b) => `${(a / b).toFixed(2)}x`;
lines.push(`Benchmark ${date} on ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, ${ROUNDS} rounds (median, with min–max of CPU µs); workerd pinned to one core, load from the other; ${WARMUP.memory} warm-up requests with memory storage and ${WARMUP.local} with local storage (300 and 100 for the 1 MB and 3 MB payloads) before measuring; CPU of this benchmark's own workerd processes only, all threads and the main thread alone.`);
for (const storage of STORAGES) {
  lines.push("");
  lines.push(storage === "memory"
    ? "**Worker-only CPU**: KV and Durable Object storage are the same in-memory stand-ins for both workers (`bench/stand-ins.mjs`). Above the floor: the CPU µs per request over the do-nothing worker's (all threads), and wa-edge's as a ratio of JS's."
    : "**With local storage**: Miniflare's local KV and SQLite-backed Durable Object storage inside workerd, as `npm start` runs (their CPU is in the numbers and dominates them).");
  lines.push("");
  const seen = storage === "memory";
  lines.push(`| workload | worker | req/s | p50 ms | p99 ms | CPU µs/req, all threads (min–max) | main thread µs/req | Rust/JS CPU (all, main) | above floor µs (Rust/JS) | KV r/w/list per req | DO requests, r/w per req |${seen ? " calls on the stand-ins per req, measured |" : ""}`);
  lines.push(`|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|${seen ? "---|" : ""}`);
  for (const w of WORKLOADS) {
    const per = results[storage][w.name];
    const cpu = Object.fromEntries(Object.entries(per).map(([k, rs]) => [k, median(rs.map((r) => r.cpuUs))]));
    const main = Object.fromEntries(Object.entries(per).map(([k, rs]) => [k, median(rs.map((r) => r.mainCpuUs))]));
    for (const name of Object.keys(WORKERS)) {
      const rs = per[name];
      const rust = name !== "js" && name !== "floor";
      const ratioJs = rust ? `${ratio(cpu[name], cpu.js)}, ${ratio(main[name], main.js)}` : "";
      const above = name === "floor" ? "" : `${(cpu[name] - cpu.floor).toFixed(0)}${rust ? ` (${ratio(cpu[name] - cpu.floor, cpu.js - cpu.floor)})` : ""}`;
      const k = kvOps[w.name];
      const ops = name === "wa-edge" && k ? `${k.reads}/${k.writes}/${k.lists}` : "";
      const dos = name === "wa-edge" && k ? `${k.do_requests}, ${k.do_reads}/${k.do_writes}` : "";
      lines.push(`| ${w.name} | ${name} | ${median(rs.map((r) => r.rps)).toFixed(0)} | ${median(rs.map((r) => r.p50)).toFixed(2)} | ${median(rs.map((r) => r.p99)).toFixed(2)} | ${median(rs.map((r) => r.cpuUs)).toFixed(0)} (${spread(rs.map((r) => r.cpuUs))}) | ${median(rs.map((r) => r.mainCpuUs)).toFixed(0)} | ${ratioJs} | ${above} | ${ops} | ${dos} |${seen ? ` ${name === "floor" ? "" : describeOps(rs[rs.length - 1].ops)} |` : ""}`);
    }
  }
}
if (WORKERS.baseline) {
  // The build against the one before it, side by side in this run: CPU per request (all threads,
  // then main thread) as ratios, with each one's ratio to the JavaScript worker.
  for (const storage of STORAGES) {
    lines.push("");
    lines.push(`**wa-edge against the baseline build** (${storage} storage, CPU per request, median of the rounds):`);
    lines.push("");
    lines.push("| workload | wa-edge/baseline (all, main) | wa-edge/JS (all) | baseline/JS (all) | first request wa-edge/baseline |");
    lines.push("|---|---:|---:|---:|---:|");
    for (const w of WORKLOADS) {
      const per = results[storage][w.name];
      const m = (name, f) => median(per[name].map(f));
      const cpu = (name) => m(name, (r) => r.cpuUs);
      const main = (name) => m(name, (r) => r.mainCpuUs);
      const first = (name) => m(name, (r) => r.firstCpuMs);
      lines.push(`| ${w.name} | ${ratio(cpu("wa-edge"), cpu("baseline"))}, ${ratio(main("wa-edge"), main("baseline"))} | ${ratio(cpu("wa-edge"), cpu("js"))} | ${ratio(cpu("baseline"), cpu("js"))} | ${ratio(first("wa-edge"), first("baseline"))} |`);
    }
  }
}
if (crowd) {
  lines.push("");
  lines.push(`**One number, many people** (counted natively): ${crowd.inbound} messages from 500 people over 100 s put ${crowd.number_requests} requests on the business number's own Durable Object, ${crowd.number_requests_per_message.toFixed(3)} per inbound message.`);
}
lines.push("");
const all = Object.values(results).flatMap((byWorkload) => Object.values(byWorkload));
const overAll = (k, f) => median(all.flatMap((per) => per[k].map(f)));
for (const why of rerun) lines.push(`Measured again in a fresh workerd: ${why}.`);
if (resent) lines.push(`Requests sent again after a pooled connection was reset before it was read: ${resent}.`);
lines.push(`wasm: ${wasm.length} bytes raw, ${gz} bytes gzipped. V8 compile of the module in Node: ${compile.length ? median(compile).toFixed(1) + " ms" : "n/a (Node 20's V8 lacks the exception-handling opcodes wasm-bindgen emits; see the start-up line)"}.`);
lines.push(`Start to first answer (workerd start + load + first request), median: wa-edge ${overAll("wa-edge", (r) => r.startupMs).toFixed(0)} ms, JS ${overAll("js", (r) => r.startupMs).toFixed(0)} ms, floor ${overAll("floor", (r) => r.startupMs).toFixed(0)} ms.`);
const firstWa = overAll("wa-edge", (r) => r.firstCpuMs);
const firstJs = overAll("js", (r) => r.firstCpuMs);
lines.push(`First request of a fresh isolate, CPU median over all workloads: wa-edge ${firstWa.toFixed(1)} ms all threads (${overAll("wa-edge", (r) => r.firstMainMs).toFixed(1)} ms main thread), JS ${firstJs.toFixed(1)} ms (${overAll("js", (r) => r.firstMainMs).toFixed(1)} ms), floor ${overAll("floor", (r) => r.firstCpuMs).toFixed(1)} ms: wa-edge/JS ${ratio(firstWa, firstJs)}${WORKERS.baseline ? `; baseline ${overAll("baseline", (r) => r.firstCpuMs).toFixed(1)} ms` : ""}.`);
if (WORKERS.baseline) {
  const base = fs.readFileSync(path.join(path.resolve(process.env.BENCH_BASELINE), "index_bg.wasm"));
  lines.push(`Baseline wasm: ${base.length} bytes raw, ${zlib.gzipSync(base, { level: 9 }).length} bytes gzipped.`);
}
const table = lines.join("\n");
console.log(table);
fs.mkdirSync(path.join(root, "bench/results"), { recursive: true });
fs.writeFileSync(path.join(root, `bench/results/${date}.md`), table + "\n");
graph.close();
