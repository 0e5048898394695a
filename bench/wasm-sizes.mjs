// `node bench/wasm-sizes.mjs [module.wasm] [top]`: where the wasm's bytes go, by function and by
// crate, read from the module's own name section (so give it a build before the names are
// stripped: `.build-next/index_bg.wasm` keeps them until scripts/strip-names.mjs runs, and
// `target/wasm32-unknown-unknown/release/wa_edge.wasm` always has them). A twiggy-like summary
// with nothing to install.
import fs from "node:fs";
import { labeller, readModule } from "./wasm-module.mjs";

const file = process.argv[2] ?? "target/wasm32-unknown-unknown/release/wa_edge.wasm";
const top = Number(process.argv[3] ?? 30);
const bytes = fs.readFileSync(file);
const { sections, bodies, names } = readModule(bytes);
const label = labeller(names);

const SECTION = { 1: "type", 2: "import", 3: "function", 4: "table", 5: "memory", 6: "global", 7: "export", 8: "start", 9: "element", 10: "code", 11: "data", 12: "datacount", 13: "tag" };
console.log(`${file}: ${bytes.length} bytes`);
for (const [id, size] of [...sections].sort((a, b) => b[1] - a[1])) {
  console.log(`  ${String(SECTION[id] ?? id).padEnd(24)} ${String(size).padStart(9)}`);
}

function crateOf(n) {
  const s = n.replace(/^(<|&|mut |dyn |\*const |\*mut )+/, "");
  const m = /^([A-Za-z_][A-Za-z0-9_]*)/.exec(s);
  return m ? m[1] : "?";
}
const total = bodies.reduce((a, b) => a + b.size, 0);
console.log(`\nlargest functions (of ${bodies.length}, ${total} bytes of code):`);
for (const b of [...bodies].sort((x, y) => y.size - x.size).slice(0, top)) {
  console.log(`  ${String(b.size).padStart(8)}  ${label(b.index).slice(0, 150)}`);
}
const byCrate = new Map();
for (const b of bodies) {
  const c = crateOf(label(b.index));
  byCrate.set(c, (byCrate.get(c) ?? 0) + b.size);
}
console.log("\nby crate (first path segment of the symbol; generic code counts where it is named):");
for (const [c, size] of [...byCrate].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`  ${String(size).padStart(8)}  ${(size / total * 100).toFixed(1).padStart(5)} %  ${c}`);
}
// Code that exists for serde (its crates, and the impls derive writes into ours).
const serdeBytes = bodies.filter((b) => /serde/.test(label(b.index))).reduce((a, b) => a + b.size, 0);
console.log(`\nfunctions naming serde anywhere (serde's crates and derived impls): ${serdeBytes} bytes, ${(serdeBytes / total * 100).toFixed(1)} % of code`);
