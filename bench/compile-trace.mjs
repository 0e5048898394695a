// `node bench/compile-trace.mjs [build dir] [requests]`: what V8 compiles while wa-edge serves a
// workload in a fresh isolate: the wasm functions its first request compiles (Liftoff, each
// function whole at its first call), then, window by window, the functions V8 tiers up to
// TurboFan (on other threads, once a function has used up its budget of executed code). This is
// how the benchmark's warm-up was chosen (bench/run.mjs) and how a change to the first path is
// checked: what it compiles, not only what it costs.
//
// V8 reports this only under a flag (`--trace-wasm-compilation-times`), which Miniflare does not
// pass to workerd: bench/v8-flags.mjs loads a copy of Miniflare that does. Local only: the
// worker and a fake Graph API listen on 127.0.0.1, and the load is bounded.
//
// TRACE_WORKLOAD=known (default: the same contact's texts, the first one new) or new (a new
// contact each time); TRACE_WINDOW=250 requests per line; TRACE_NAMES=<module.wasm> names the
// functions (default .build-next/index_bg.wasm after `KEEP_WASM_NAMES=1 bash scripts/build.sh`;
// used only when its code is the build's); TRACE_FIRST=all lists all the first request compiled.
import fs from "node:fs";
import path from "node:path";
import { buildEntry, fakeGraph, signedText, toolBindings, workerOptions } from "./worker-options.mjs";
import { labeller, readModule } from "./wasm-module.mjs";
import { miniflareWithV8Flags } from "./v8-flags.mjs";

const dir = process.argv[2] ?? "build";
const N = Number(process.argv[3] ?? 3000);
const WINDOW = Number(process.env.TRACE_WINDOW ?? 250);
const WORKLOAD = process.env.TRACE_WORKLOAD ?? "known";
const SECRET = "bench-app-secret";

const Miniflare = miniflareWithV8Flags("compile-trace", ["--trace-wasm-compilation-times"]);

// Names, when the named module has the same code as the build's.
const built = readModule(fs.readFileSync(path.join(dir, "index_bg.wasm")));
const namesFile = process.env.TRACE_NAMES ?? ".build-next/index_bg.wasm";
const named = fs.existsSync(namesFile) ? readModule(fs.readFileSync(namesFile)) : null;
const sameCode = named && named.names.size > 0 && named.sections.get(10) === built.sections.get(10);
const label = labeller(sameCode ? named.names : new Map());
if (!sameCode) console.log(`(no names: ${namesFile} is not a named build of this code)`);

const graph = await fakeGraph();
const output = [];
const mf = new Miniflare(workerOptions(buildEntry(dir), toolBindings(SECRET, graph.base, "memory"), {
  handleRuntimeStdio(stdout, stderr) {
    stdout.on("data", (d) => output.push(d));
    stderr.resume();
  },
}));
const url = new URL("/webhook", await mf.ready);

let seq = 0;
async function deliver() {
  const from = WORKLOAD === "known" ? "15550001111" : `1555${String(seq).padStart(7, "0")}`;
  const { body, signature } = signedText(SECRET, from, `wamid.T${process.pid}.${seq++}`, "hello, a question");
  const answer = await fetch(url, { method: "POST", headers: { "x-hub-signature-256": signature }, body, signal: AbortSignal.timeout(30_000) });
  await answer.text();
  if (answer.status !== 200) throw new Error(`delivery answered ${answer.status}`);
}
for (let i = 0; i <= N; i++) await deliver();
// The last compilations and log lines reach stdout after the last answer.
await new Promise((r) => setTimeout(r, 500));
await mf.dispose();
graph.server.close();

// The worker logs one line per delivery: compilations are placed by the deliveries logged
// before them (the first request's compilations come before its own line).
const COMPILED = /^Compiled function \S+#(\d+) using (\w+), took (\d+) .s .*bodysize (\d+)/;
let served = 0;
const windows = new Map();
const first = [];
for (const line of Buffer.concat(output).toString("utf8").split("\n")) {
  if (line.startsWith("webhook delivery ->")) {
    served++;
    continue;
  }
  const m = COMPILED.exec(line);
  if (!m) continue;
  const [index, tier, us, body] = [Number(m[1]), m[2], Number(m[3]), Number(m[4])];
  if (served === 0) first.push({ index, tier, us, body });
  const w = served === 0 ? "first" : Math.floor((served - 1) / WINDOW) * WINDOW + 1;
  const row = windows.get(w) ?? { Liftoff: [0, 0, 0], TurboFan: [0, 0, 0] };
  const sum = row[tier] ?? (row[tier] = [0, 0, 0]);
  sum[0]++;
  sum[1] += body;
  sum[2] += us;
  windows.set(w, row);
}
const sum = (xs, f) => xs.reduce((a, x) => a + f(x), 0);
console.log(`${WORKLOAD} workload, ${N + 1} deliveries (${served} logged), build ${dir}`);
console.log(`first request: ${first.length} functions compiled, ${sum(first, (f) => f.body)} bytes of wasm, ${(sum(first, (f) => f.us) / 1000).toFixed(1)} ms compiling`);
// TRACE_FIRST=all lists every function the first request compiled, not only the 12 dearest.
const shown = process.env.TRACE_FIRST === "all" ? first.length : 12;
for (const f of [...first].sort((a, b) => b.us - a.us).slice(0, shown)) {
  console.log(`  ${String(f.us).padStart(6)} µs ${String(f.body).padStart(6)} B  ${label(f.index).slice(0, 110)}`);
}
console.log("\nrequests          Liftoff: functions, bytes, ms     TurboFan: functions, bytes, ms");
const cell = ([n, bytes, us]) => `${String(n).padStart(5)} ${String(bytes).padStart(8)} ${(us / 1000).toFixed(1).padStart(7)}`;
for (const [w, row] of windows) {
  const span = w === "first" ? "first" : `${w}-${Math.min(w + WINDOW - 1, N + 1)}`;
  console.log(`${span.padEnd(16)} ${cell(row.Liftoff)}         ${cell(row.TurboFan)}`);
}
