// `node bench/first-request.mjs <build dir> <build dir> [n]`: the CPU of a fresh isolate's first
// request (a new contact's text), for two builds side by side, n fresh workerd processes each,
// alternating. Each build dir holds `index.js` and `index_bg.wasm` (a copy of build/) and must be
// inside the project (workerd loads modules only from under it). Storage is the benchmark's
// in-memory stand-ins, so what is measured is the worker's own first request. Local only: the
// worker and a fake Graph API listen on 127.0.0.1. FIRST_REQUEST=health measures a `GET /healthz`
// instead (no signature, no object, no store: the isolate's own first-request cost), and
// FIRST_REQUEST=badsig a delivery signed with another secret (verified and refused: 403).
import { spawn } from "node:child_process";
import { cpuNs, workerdPids } from "./workerd-cpu.mjs";
import { buildEntry, fakeGraph, miniflare, signedText, toolBindings, workerOptions } from "./worker-options.mjs";

const SECRET = "bench-app-secret";
const dirs = process.argv.slice(2, 4);
const n = Number(process.argv[4] ?? 5);
if (dirs.length !== 2) throw new Error("usage: node bench/first-request.mjs <build dir> <build dir> [n]");

const graph = await fakeGraph();

// Each build behind the benchmark's memory entry, pointed at that build.
const entries = dirs.map((dir) => buildEntry(dir));

const results = dirs.map(() => []);
for (let round = 0; round < n; round++) {
  for (const [i, entry] of entries.entries()) {
    const before = new Set(workerdPids());
    const mf = miniflare(workerOptions(entry, toolBindings(SECRET, graph.base, "memory")));
    const base = await mf.ready;
    const pid = workerdPids().find((p) => !before.has(p));
    const c = "1555" + String(round * 2 + i).padStart(7, "0");
    const key = process.env.FIRST_REQUEST === "badsig" ? "another secret" : SECRET;
    const { body, signature } = signedText(key, c, `wamid.first.${c}`, "hello");
    // FIRST_REQUEST_PERF=<file prefix>: `perf record` of the workerd process over the request
    // (where a first request's CPU goes: compilation, page faults, the work).
    const perf = process.env.FIRST_REQUEST_PERF
      ? spawn("perf", ["record", "-g", "-F", "20000", "-p", String(pid), "-o", `${process.env.FIRST_REQUEST_PERF}.${i}.${round}`], { stdio: "ignore" })
      : null;
    if (perf) await new Promise((r) => setTimeout(r, 500));
    const start = cpuNs(pid);
    const answer = process.env.FIRST_REQUEST === "health"
      ? await fetch(new URL("/healthz", base), { signal: AbortSignal.timeout(30_000) })
      : await fetch(new URL("/webhook", base), { method: "POST", headers: { "x-hub-signature-256": signature, "content-type": "application/json" }, body, signal: AbortSignal.timeout(30_000) });
    await answer.text();
    if (answer.status !== (process.env.FIRST_REQUEST === "badsig" ? 403 : 200)) throw new Error(`${dirs[i]}: first request answered ${answer.status}`);
    // The reply's send runs from the object's alarm right after: let it finish, as in the
    // benchmark's first-request figure.
    await new Promise((r) => setTimeout(r, 200));
    results[i].push((cpuNs(pid) - start) / 1e6);
    if (perf) {
      perf.kill("SIGINT");
      await new Promise((r) => perf.on("exit", r));
    }
    await mf.dispose();
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [i, d] of dirs.entries()) {
  console.log(`${d}: first request CPU median ${median(results[i]).toFixed(1)} ms (${results[i].map((x) => x.toFixed(1)).join(", ")})`);
}
graph.server.close();
