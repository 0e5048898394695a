// Miniflare with V8 flags: workerd takes them from its config (`v8Flags`), which Miniflare
// assembles without them. This writes a copy of Miniflare's module that adds the given flags to
// that config, next to the original in node_modules (left as it is), and loads it; it refuses
// if the config assembly no longer ends as expected. For measuring tools only
// (bench/compile-trace.mjs, bench/perf-steady.mjs), never for the worker or its tests.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/// Miniflare's class, its workerd started with `flags` (e.g. ["--perf-basic-prof"]).
export function miniflareWithV8Flags(name, flags) {
  const original = require.resolve("miniflare");
  const anchor = "structuredLogging: this.#structuredWorkerdLogs\n    };";
  const source = fs.readFileSync(original, "utf8");
  if (source.split(anchor).length !== 2) throw new Error(`${original}: Miniflare's config assembly changed; update bench/v8-flags.mjs`);
  const copy = path.join(path.dirname(original), `index.${name}.js`);
  fs.writeFileSync(copy, source.replace(anchor, `structuredLogging: this.#structuredWorkerdLogs,\n      v8Flags: ${JSON.stringify(flags)}\n    };`));
  return require(copy).Miniflare;
}
