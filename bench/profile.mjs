// `npm run bench:profile`: where wa-edge's CPU goes. Samples the worker's V8 isolate through the
// inspector (Chrome DevTools protocol) while it serves one workload, then sums self time by
// function: the JS glue, wasm functions (named by Rust symbol), and the runtime's builtins.
// Local only: the inspector listens on 127.0.0.1 and the load is bounded.
import { WebSocket } from "undici";
import { fakeGraph, miniflare, regularCustomer, signedText, toolBindings, workerOptions } from "./worker-options.mjs";
import http from "node:http";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const WORKLOAD = process.env.PROFILE_WORKLOAD ?? "known";
const N = Number(process.env.PROFILE_REQUESTS ?? 600);
const SECRET = "bench-app-secret";

const graph = await fakeGraph();

const inspectorPort = 9300 + (process.pid % 500);
// PROFILE_STORAGE: "memory" (the benchmark's in-memory KV and storage, so the worker's own work
// is what is sampled) or "local" (Miniflare's local KV and SQLite storage).
const STORAGE = process.env.PROFILE_STORAGE ?? "memory";
// PROFILE_WORKER=js samples the JavaScript reference instead (bench/js-worker.mjs), to compare.
const JS = process.env.PROFILE_WORKER === "js";
const jsScript = STORAGE === "memory" ? "bench/memory-js.mjs" : "bench/js-worker.mjs";
const mf = miniflare(workerOptions(
  path.join(root, JS ? jsScript : "bench/wa-edge-entry.mjs"),
  toolBindings(SECRET, graph.base, STORAGE),
  { inspectorPort },
));
const url = new URL("/webhook", await mf.ready).toString();

let seq = 0;
function delivery() {
  const from = WORKLOAD === "known" ? regularCustomer(seq) : `1555${String(seq).padStart(7, "0")}`;
  return signedText(WORKLOAD === "badsig" ? "other" : SECRET, from, `wamid.P${process.pid}.${seq++}`, "hello, a question");
}
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
const post = (d) => new Promise((resolve, reject) => {
  const req = http.request(url, { method: "POST", agent, headers: { "content-length": d.body.length, "x-hub-signature-256": d.signature } }, (res) => res.resume().on("end", resolve));
  req.on("error", reject);
  req.end(d.body);
});

// Warm up before sampling, so compilation of the module is not what is measured
// (PROFILE_WARMUP=0 PROFILE_REQUESTS=1 samples a fresh isolate's first request instead).
// 3,000, as the benchmark: V8 tiers wasm up slowly (see bench/run.mjs).
const WARMUP = Number(process.env.PROFILE_WARMUP ?? 3000);
for (let i = 0; i < WARMUP; i++) await post(delivery());

const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json();
const target = targets.find((t) => t.webSocketDebuggerUrl) ?? targets[0];
const ws = new WebSocket(target.webSocketDebuggerUrl);
await new Promise((r) => ws.addEventListener("open", r, { once: true }));
let id = 0;
const pending = new Map();
ws.addEventListener("message", (e) => {
  const msg = JSON.parse(e.data);
  if (msg.id && pending.has(msg.id)) { pending.get(msg.id)(msg.result); pending.delete(msg.id); }
});
const cdp = (method, params = {}) => new Promise((resolve) => { const i = ++id; pending.set(i, resolve); ws.send(JSON.stringify({ id: i, method, params })); });

await cdp("Profiler.enable");
await cdp("Profiler.setSamplingInterval", { interval: Number(process.env.PROFILE_INTERVAL_US ?? 50) });
await cdp("Profiler.start");
const queue = Array.from({ length: N }, delivery);
await Promise.all(Array.from({ length: 4 }, async () => { while (queue.length) await post(queue.pop()); }));
const { profile } = await cdp("Profiler.stop");
ws.close();
await mf.dispose();
graph.server.close();
agent.destroy();

// Self time per function from the samples.
const byNode = new Map(profile.nodes.map((n) => [n.id, n]));
const counts = new Map();
for (const s of profile.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
const total = profile.samples.length;
const selfByFn = new Map();
const bucket = (n) => {
  const f = n.callFrame;
  if (f.url.includes(".wasm") || f.url.startsWith("wasm://")) return "wasm";
  if (f.url.includes("index.js")) return "js glue";
  if (f.url.includes("/bench/")) return "bench stand-ins";
  if (f.functionName === "(idle)" || f.functionName === "(program)" || f.functionName === "(garbage collector)") return f.functionName;
  return "runtime/builtins";
};
const byBucket = new Map();
for (const [nodeId, c] of counts) {
  const n = byNode.get(nodeId);
  const name = `${n.callFrame.functionName || "(anonymous)"} [${bucket(n)}]`;
  selfByFn.set(name, (selfByFn.get(name) ?? 0) + c);
  byBucket.set(bucket(n), (byBucket.get(bucket(n)) ?? 0) + c);
}
const busy = total - (byBucket.get("(idle)") ?? 0);
console.log(`workload ${WORKLOAD}, ${N} requests, ${total} samples (${busy} not idle)`);
console.log("\nshare of non-idle samples by kind:");
for (const [k, c] of [...byBucket].sort((a, b) => b[1] - a[1])) if (k !== "(idle)") console.log(`  ${(100 * c / busy).toFixed(1).padStart(5)}%  ${k}`);
console.log("\ntop functions by self time (share of non-idle samples):");
for (const [k, c] of [...selfByFn].filter(([k]) => !k.startsWith("(idle)")).sort((a, b) => b[1] - a[1]).slice(0, 25)) {
  console.log(`  ${(100 * c / busy).toFixed(1).padStart(5)}%  ${k.slice(0, 140)}`);
}
// The wasm share by crate (the first path segment of the Rust symbol), to see what kind of work
// the wasm does.
const wasmByCrate = new Map();
for (const [nodeId, c] of counts) {
  const n = byNode.get(nodeId);
  if (bucket(n) !== "wasm") continue;
  const name = n.callFrame.functionName.replace(/^[<&]+/, "");
  const crate = /^([A-Za-z_][A-Za-z0-9_]*)/.exec(name)?.[1] ?? "?";
  wasmByCrate.set(crate, (wasmByCrate.get(crate) ?? 0) + c);
}
if (process.env.PROFILE_WASM_TOP) {
  console.log("\nwasm functions by self time (share of non-idle samples):");
  for (const [k, c] of [...selfByFn].filter(([k]) => k.endsWith("[wasm]")).sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.PROFILE_WASM_TOP))) {
    console.log(`  ${(100 * c / busy).toFixed(1).padStart(5)}%  ${k.slice(0, 140)}`);
  }
}
console.log("\nwasm self time by crate (share of non-idle samples):");
for (const [k, c] of [...wasmByCrate].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  ${(100 * c / busy).toFixed(1).padStart(5)}%  ${k}`);
// Inclusive time of wa-edge's own functions (self and everything they call, a future's poll
// included), counted once per sample however deep the recursion: where a request's work goes.
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const inclusive = new Map();
for (const [nodeId, c] of counts) {
  const seen = new Set();
  for (let id = nodeId; id !== undefined; id = parent.get(id)) {
    const f = byNode.get(id).callFrame.functionName;
    if (!f.includes("wa_edge::")) continue;
    const name = f.replace(/::h[0-9a-f]{16}$/, "").replace(/::\{\{closure\}\}/g, "");
    if (seen.has(name)) continue;
    seen.add(name);
    inclusive.set(name, (inclusive.get(name) ?? 0) + c);
  }
}
console.log("\nwa-edge functions by inclusive time (share of non-idle samples):");
for (const [k, c] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.PROFILE_TOP ?? 30))) {
  console.log(`  ${(100 * c / busy).toFixed(1).padStart(5)}%  ${k.slice(0, 150)}`);
}
// Where the anonymous runtime functions are (script and line), when they weigh.
const anon = new Map();
for (const [nodeId, c] of counts) {
  const f = byNode.get(nodeId).callFrame;
  if (f.functionName) continue;
  const where = `${f.url || "(no script)"}:${f.lineNumber}`;
  anon.set(where, (anon.get(where) ?? 0) + c);
}
console.log("\nanonymous functions by place:");
for (const [k, c] of [...anon].sort((a, b) => b[1] - a[1]).slice(0, 8)) console.log(`  ${(100 * c / busy).toFixed(1).padStart(5)}%  ${k.slice(0, 150)}`);
// PROFILE_UNDER=<part of a function name>: self time of what runs beneath that function (its
// callees, wasm, glue and runtime alike), to see where one step's inclusive time goes.
if (process.env.PROFILE_UNDER) {
  const under = new Map();
  let within = 0;
  for (const [nodeId, c] of counts) {
    let inside = false;
    for (let id = nodeId; id !== undefined; id = parent.get(id)) {
      if (byNode.get(id).callFrame.functionName.includes(process.env.PROFILE_UNDER)) { inside = true; break; }
    }
    if (!inside) continue;
    within += c;
    const f = byNode.get(nodeId).callFrame;
    const name = `${(f.functionName || "(anonymous)").replace(/::h[0-9a-f]{16}$/, "")} [${bucket(byNode.get(nodeId))}]`;
    under.set(name, (under.get(name) ?? 0) + c);
  }
  console.log(`\nbeneath ${process.env.PROFILE_UNDER}: ${(100 * within / busy).toFixed(1)}% of non-idle samples; self time there:`);
  for (const [k, c] of [...under].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log(`  ${(100 * c / busy).toFixed(1).padStart(5)}%  ${k.slice(0, 150)}`);
}
