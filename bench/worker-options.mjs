// The Miniflare options the benchmark's tools give the worker under test (bench/profile.mjs,
// bench/first-request.mjs; bench/run.mjs shares the module rules): ES modules and compiled wasm
// from under the project, the person objects, a KV namespace, nothing persisted, one
// compatibility date, and the worker's output drained (printing it would measure the terminal).
import fs from "node:fs";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");

// build/index.js is an ES module: the imported copy needs saying so (only .mjs is by default).
export const MODULE_RULES = [{ type: "ESModule", include: ["**/*.js", "**/*.mjs"] }, { type: "CompiledWasm", include: ["**/*.wasm"] }];

/// Options for `scriptPath` with `bindings`; `extra` adds or overrides (an inspector port).
export function workerOptions(scriptPath, bindings, extra = {}) {
  return {
    modules: true,
    modulesRoot: root,
    scriptPath,
    modulesRules: MODULE_RULES,
    durableObjects: { PERSON: "Person" },
    kvNamespaces: ["WHATSAPP_KV"],
    kvPersist: false,
    durableObjectsPersist: false,
    compatibilityDate: "2026-04-20",
    bindings,
    handleRuntimeStdio(stdout, stderr) { stdout.resume(); stderr.resume(); },
    ...extra,
  };
}

/// The bindings of the profile and first-request tools: `secret` signs deliveries, sends go to
/// the fake Graph API at `graphBase`, `storage` is the wa-edge entry's BENCH_STORAGE.
export function toolBindings(secret, graphBase, storage) {
  return {
    WHATSAPP_APP_SECRET: secret, WHATSAPP_VERIFY_TOKEN: "v", WHATSAPP_ACCESS_TOKEN: "t", ADMIN_TOKEN: "a",
    CONTACT_KEY_SECRET: "c", GRAPH_API_BASE: graphBase,
    DEFAULT_REPLY: "Thanks, a person will answer soon.", MARK_AS_READ: "false", BENCH_STORAGE: storage,
  };
}

/// The benchmark's wa-edge entry (bench/wa-edge-entry.mjs) for the build in `dir` (a copy of
/// build/ inside the project: workerd loads modules only from under it), written into `dir`.
export function buildEntry(dir) {
  const at = path.resolve(dir);
  const entry = path.join(at, "first-request-entry.mjs");
  let standIns = path.relative(at, path.join(root, "bench/stand-ins.mjs"));
  if (!standIns.startsWith(".")) standIns = "./" + standIns;
  fs.writeFileSync(entry, fs.readFileSync(path.join(root, "bench/wa-edge-entry.mjs"), "utf8")
    .replace('"../build/index.js"', '"./index.js"')
    .replace('"./stand-ins.mjs"', JSON.stringify(standIns)));
  return entry;
}
