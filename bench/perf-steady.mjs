// `node bench/perf-steady.mjs [build dir] [requests]`: where a warmed worker's CPU goes, read
// by `perf` with V8 naming its generated code, so nothing is attached to the isolate (the
// inspector that `npm run bench:profile` uses makes V8 run wasm differently, and counts native
// time against whatever JavaScript called it). wa-edge (the build's memory entry) and the
// JavaScript reference run one after the other, each warmed with 3,000 known contacts' texts
// (20 regular customers in turn, as in bench/run.mjs), then sampled over `requests` more (1,500).
// PERF_WORKLOAD=new|stop samples a new contact's text or STOP instead. Per worker: the share and µs per request of wasm (TurboFan and Liftoff code), JavaScript
// compiled by V8 (wa-edge's glue, the reference's own code), workerd and V8's runtime (builtins,
// interpreter, GC, the runtime's APIs), the kernel; then the largest wasm functions. µs include
// perf's own overhead: compare the two workers, not with the benchmark's figures.
//
// Needs `perf` (Debian: linux-perf). V8 names its code only under `--perf-basic-prof`, which
// bench/v8-flags.mjs passes. Local only: the workers and a fake Graph API listen on 127.0.0.1.
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { execFileSync, spawn } from "node:child_process";
import { buildEntry, fakeGraph, regularCustomer, signedText, toolBindings, workerOptions } from "./worker-options.mjs";
import { workerdPids } from "./workerd-cpu.mjs";
import { miniflareWithV8Flags } from "./v8-flags.mjs";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const dir = process.argv[2] ?? "build";
const N = Number(process.argv[3] ?? 1500);
const PAD_KB = Number(process.env.PERF_PAYLOAD_KB ?? 0);
// Large payloads tier up in fewer requests (their loops use up V8's budget) and cost more each.
const WARMUP = PAD_KB ? 30 : 3000;
const HZ = 2000;
const SECRET = "bench-app-secret";
try {
  execFileSync("perf", ["--version"], { stdio: "ignore" });
} catch {
  throw new Error("perf is not installed (Debian: apt install linux-perf)");
}
// `--perf-basic-prof` also turns V8's own log on, a file per isolate in the working directory:
// sent nowhere.
const Miniflare = miniflareWithV8Flags("perf-steady", ["--perf-basic-prof", "--logfile=/dev/null", "--no-logfile-per-isolate"]);

const graph = await fakeGraph();

// PERF_WORKLOAD: `known` (a regular customer's text), `new` (a text from someone new each
// time: a new authority per request) or `stop` (a STOP from someone new).
const WORKLOAD = process.env.PERF_WORKLOAD ?? "known";
if (!["known", "new", "stop"].includes(WORKLOAD)) throw new Error(`PERF_WORKLOAD is known, new or stop, not ${WORKLOAD}`);
let seq = 0;
function delivery() {
  const n = seq++;
  const from = WORKLOAD === "known" ? regularCustomer(n) : `1556${String(n).padStart(7, "0")}`;
  const text = { known: "and another question", new: "hello, is my order on its way?", stop: "STOP" }[WORKLOAD];
  // PERF_PAYLOAD_KB pads the delivery to that size (as the benchmark's 1 MB workload does).
  return signedText(SECRET, from, `wamid.P${process.pid}.${n}`, text, PAD_KB * 1024);
}

/// Samples of one worker over N requests after the warm-up: [{ dso, symbol, samples }].
async function sample(scriptPath, label) {
  const before = new Set(workerdPids());
  const mf = new Miniflare(workerOptions(scriptPath, toolBindings(SECRET, graph.base, "memory")));
  const url = new URL("/webhook", await mf.ready);
  const pid = workerdPids().find((p) => !before.has(p));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const post = (d) => new Promise((resolve, reject) => {
    const req = http.request(url, { method: "POST", agent, headers: { "content-length": d.body.length, "x-hub-signature-256": d.signature } }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`${label}: answered ${res.statusCode}`));
      res.resume().on("end", resolve);
    });
    req.on("error", reject);
    req.end(d.body);
  });
  const load = async (n) => {
    let left = n;
    await Promise.all(Array.from({ length: 4 }, async () => { while (left-- > 0) await post(delivery()); }));
  };
  await load(WARMUP);
  const data = path.join(root, "bench/results", `perf-steady-${label}.data`);
  fs.mkdirSync(path.dirname(data), { recursive: true });
  // PERF_CALLERS=1 records call graphs too, and keeps V8's map of its code, for
  // `perf report -G -i bench/results/perf-steady-<worker>.data` (the map is left in /tmp).
  const callGraph = process.env.PERF_CALLERS === "1" ? ["-g"] : [];
  const perf = spawn("perf", ["record", ...callGraph, "-F", String(HZ), "-p", String(pid), "-o", data], { stdio: "ignore" });
  // perf attaches before the load starts (it prints nothing to wait on).
  await new Promise((r) => setTimeout(r, 500));
  await load(N);
  perf.kill("SIGINT");
  await new Promise((r) => perf.on("exit", r));
  agent.destroy();
  await mf.dispose();
  const report = execFileSync("perf", ["report", "-i", data, "--stdio", "-n", "--no-children", "--sort", "dso,sym", "-g", "none"], { maxBuffer: 64 << 20, stdio: ["ignore", "pipe", "ignore"] }).toString();
  // The map V8 wrote for perf (/tmp/perf-<pid>.map) has served its report, unless the call
  // graphs are to be read from the saved data.
  if (callGraph.length === 0) fs.rmSync(`/tmp/perf-${pid}.map`, { force: true });
  const rows = [];
  for (const line of report.split("\n")) {
    const m = /^\s+[\d.]+%\s+(\d+)\s+(\S.*?)\s+\[[.k]\]\s+(.*)$/.exec(line);
    if (m) rows.push({ samples: Number(m[1]), dso: m[2], symbol: m[3].trim() });
  }
  return rows;
}

function category({ dso, symbol }) {
  if (dso.startsWith("[JIT]")) {
    if (symbol.endsWith("-turbofan")) return "wasm, TurboFan";
    if (symbol.endsWith("-liftoff")) return "wasm, Liftoff";
    return "JavaScript compiled by V8";
  }
  if (dso === "workerd") return /Liftoff/.test(symbol) ? "wasm, Liftoff" : "workerd and V8 runtime";
  if (dso.includes("kernel")) return "kernel";
  return "libraries (libc, libm)";
}

const workers = [
  ["wa-edge", buildEntry(dir)],
  ["js", path.join(root, "bench/memory-js.mjs")],
];
const results = [];
for (const [label, script] of workers) results.push([label, await sample(script, label)]);
graph.server.close();

const perRequest = (samples) => (samples / HZ / N) * 1e6;
console.log(`${N} ${{ known: "known contacts' texts", new: "new contacts' texts", stop: "STOPs from new contacts" }[WORKLOAD]}${PAD_KB ? ` of ${PAD_KB} KB` : ""} after ${WARMUP} warm-up requests, perf at ${HZ} Hz (µs per request include perf's overhead)\n`);
const cats = ["wasm, TurboFan", "wasm, Liftoff", "JavaScript compiled by V8", "workerd and V8 runtime", "kernel", "libraries (libc, libm)"];
console.log(`${"".padEnd(28)}${results.map(([l]) => l.padStart(18)).join("")}`);
for (const c of [...cats, "total"]) {
  const cells = results.map(([, rows]) => {
    const all = rows.reduce((a, r) => a + r.samples, 0);
    const n = rows.filter((r) => c === "total" || category(r) === c).reduce((a, r) => a + r.samples, 0);
    return `${perRequest(n).toFixed(0).padStart(7)} µs ${(100 * n / all).toFixed(1).padStart(5)} %`;
  });
  console.log(`${c.padEnd(28)}${cells.join("")}`);
}
const [, wa] = results[0];
const wasmAll = wa.filter((r) => category(r).startsWith("wasm")).sort((a, b) => b.samples - a.samples);
console.log("\nwa-edge's largest wasm functions (µs per request):");
for (const r of wasmAll.slice(0, Number(process.env.PERF_TOP ?? 20))) {
  console.log(`  ${perRequest(r.samples).toFixed(1).padStart(6)}  ${r.symbol.replace(/^JS:/, "").slice(0, 120)}`);
}
// Functions V8 never moved to TurboFan: each call also pays Liftoff's frame setup.
const liftoff = wasmAll.filter((r) => category(r) === "wasm, Liftoff");
console.log(`\nwa-edge's wasm still in Liftoff (${liftoff.length} symbols, µs per request):`);
for (const r of liftoff.slice(0, Number(process.env.PERF_TOP ?? 20))) {
  console.log(`  ${perRequest(r.samples).toFixed(1).padStart(6)}  ${r.symbol.replace(/^JS:/, "").slice(0, 120)}`);
}
// Where wa-edge's calls cost the runtime, the kernel and libc more than the reference's do.
const outside = (rows) => {
  const m = new Map();
  for (const r of rows.filter((r) => !category(r).startsWith("wasm") && !r.dso.startsWith("[JIT]"))) {
    const k = `${r.dso.slice(0, 12).padEnd(12)} ${r.symbol.slice(0, 100)}`;
    m.set(k, (m.get(k) ?? 0) + r.samples);
  }
  return m;
};
const [ours, theirs] = results.map(([, rows]) => outside(rows));
const diffs = [...new Set([...ours.keys(), ...theirs.keys()])]
  .map((k) => [k, (ours.get(k) ?? 0) - (theirs.get(k) ?? 0)])
  .sort((a, b) => b[1] - a[1]);
console.log("\noutside the wasm, where wa-edge costs most more than JS (µs per request, wa-edge js):");
for (const [k, d] of diffs.slice(0, Number(process.env.PERF_TOP ?? 20))) {
  console.log(`  ${perRequest(d).toFixed(1).padStart(6)}  ${perRequest(ours.get(k) ?? 0).toFixed(1).padStart(6)} ${perRequest(theirs.get(k) ?? 0).toFixed(1).padStart(6)}  ${k}`);
}
