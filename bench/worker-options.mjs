// The Miniflare options the benchmark's tools give the worker under test (bench/profile.mjs,
// bench/first-request.mjs; bench/run.mjs shares the module list): ES modules and compiled wasm
// from under the project, the person objects, a KV namespace, one compatibility date, and the
// worker's output dropped (printing it would measure the terminal). They are written in
// Miniflare's one-worker (v4) shape and converted to its current one (`miniflare`).
import { Miniflare, convertV4MiniflareOptions } from "miniflare";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");

// The worker's compatibility date, as wrangler.toml sets it for `npm start` and the tests.
export const COMPATIBILITY_DATE = fs
  .readFileSync(path.join(root, "wrangler.toml"), "utf8")
  .match(/^compatibility_date\s*=\s*"([^"]+)"/m)[1];

/// Every module `entry` loads, itself first, found by following its relative imports: `.wasm` is
/// compiled wasm, the rest ES modules (build/index.js too, which a default rule would not take
/// for one). Miniflare takes the list as it is; its module rules do not convert.
export function modulesOf(entry) {
  const found = new Map();
  const visit = (file) => {
    if (found.has(file)) return;
    const type = file.endsWith(".wasm") ? "CompiledWasm" : "ESModule";
    found.set(file, { type, path: file });
    if (type !== "ESModule") return;
    const source = fs.readFileSync(file, "utf8");
    for (const [, spec] of source.matchAll(/(?:from|import)\s*["'](\.{1,2}\/[^"']+)["']/g)) {
      visit(path.resolve(path.dirname(file), spec));
    }
  };
  visit(path.resolve(entry));
  return [...found.values()];
}

/// A Miniflare for options in the one-worker shape, converted to Miniflare's current options.
/// Nothing is persisted: without a persistence path, its storage is temporary.
export function miniflare(options, Class = Miniflare) {
  return new Class(convertV4MiniflareOptions(options));
}

/// Options for `scriptPath` with `bindings`; `extra` adds or overrides (an inspector port).
export function workerOptions(scriptPath, bindings, extra = {}) {
  return {
    modulesRoot: root,
    modules: modulesOf(scriptPath),
    durableObjects: { PERSON: "Person" },
    kvNamespaces: ["WHATSAPP_KV"],
    compatibilityDate: COMPATIBILITY_DATE,
    bindings,
    handleStructuredLogs() {},
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
/// build/ inside the project: workerd loads modules only from under it), written into `dir` as
/// `name`, its imports pointed at that build and the stand-ins.
export function buildEntry(dir, name = "first-request-entry.mjs") {
  const at = path.resolve(dir);
  const entry = path.join(at, name);
  const from = (file) => {
    const relative = path.relative(at, path.join(root, file));
    return JSON.stringify(relative.startsWith(".") ? relative : "./" + relative);
  };
  fs.writeFileSync(entry, fs.readFileSync(path.join(root, "bench/wa-edge-entry.mjs"), "utf8")
    .replace('"../build/index.js"', '"./index.js"')
    .replace('"./stand-ins.mjs"', from("bench/stand-ins.mjs")));
  return entry;
}

/// A fake Graph API on 127.0.0.1 that answers every send as sent: the server (to close) and the
/// base URL to give the worker (`toolBindings`).
export async function fakeGraph() {
  const server = http.createServer((req, res) => req.resume().on("end", () => res.end('{"messages":[{"id":"wamid.bench"}]}')));
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { server, base: `http://127.0.0.1:${server.address().port}` };
}

/// The `n`th of the 20 regular customers whose texts are a known contact's (as in bench/run.mjs).
export const regularCustomer = (n) => `155500011${String(n % 20).padStart(2, "0")}`;

/// A delivery of one text from `from` with message id `id`, signed with `secret` (another secret
/// makes a bad signature), its value padded with `padding` characters as the large payloads are:
/// the body's bytes and the signature header.
export function signedText(secret, from, id, text, padding = 0) {
  const message = { from, id, timestamp: String(Math.floor(Date.now() / 1000)), type: "text", text: { body: text } };
  const value = { messaging_product: "whatsapp", metadata: { phone_number_id: "106540352242922" }, contacts: [{ profile: { name: "Bench" }, wa_id: from }], messages: [message] };
  if (padding) value.padding = "x".repeat(padding);
  const body = Buffer.from(JSON.stringify({ object: "whatsapp_business_account", entry: [{ id: "W", changes: [{ field: "messages", value }] }] }));
  return { body, signature: "sha256=" + crypto.createHmac("sha256", secret).update(body).digest("hex") };
}
