// The built worker on workerd (the pinned wrangler's `dev`), with local KV and Durable Objects
// under a folder of its own, for the tests written in JavaScript (the soak, the console's browser
// tests). Loopback only; the process group is killed when asked or when the test process ends.
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");

/** A free TCP port on 127.0.0.1. */
export const freePort = () =>
  new Promise((ok) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => ok(p));
    });
  });

/** Meta's X-Hub-Signature-256 of `body` under `secret`. */
export const sign = (secret, body) => "sha256=" + crypto.createHmac("sha256", secret).update(body).digest("hex");

/** A folder for a worker's state, removed by the caller when done. */
export const stateDir = (name) => fs.mkdtempSync(path.join(os.tmpdir(), `wa-edge-${name}-`));

/**
 * Starts `wrangler dev` with `vars` as its secrets and variables (an env file in `persist`), on
 * a free port; resolves once /healthz answers 200. `log()` is everything it printed.
 */
export const startWorker = async ({ persist, vars, limitMs = 180_000 }) => {
  const envFile = path.join(persist, "worker.env");
  fs.writeFileSync(
    envFile,
    Object.entries(vars)
      .map(([k, v]) => `${k}='${v}'\n`)
      .join(""),
  );
  const port = await freePort();
  const inspector = await freePort();
  let log = "";
  const child = spawn(
    "node_modules/.bin/wrangler",
    ["dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspector), "--persist-to", persist, "--show-interactive-dev-session=false", "--log-level", "log", "--env-file", envFile],
    { cwd: root, detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" } },
  );
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  const kill = () => {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {}
  };
  process.once("exit", kill);
  const base = `http://127.0.0.1:${port}`;
  const until = Date.now() + limitMs;
  while (Date.now() < until) {
    try {
      const r = await fetch(`${base}/healthz`);
      await r.arrayBuffer();
      if (r.status === 200) return { child, base, kill, log: () => log };
    } catch {}
    await new Promise((ok) => setTimeout(ok, 200));
  }
  kill();
  throw new Error(`the worker did not start:\n${log.slice(-4000)}`);
};
