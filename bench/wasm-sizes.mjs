// `node bench/wasm-sizes.mjs [module.wasm] [top]`: where the wasm's bytes go, by function and by
// crate, read from the module's own name section (so give it a build before the names are
// stripped: `.build-next/index_bg.wasm` keeps them until scripts/strip-names.mjs runs, and
// `target/wasm32-unknown-unknown/release/wa_edge.wasm` always has them). A twiggy-like summary
// with nothing to install.
import fs from "node:fs";

const file = process.argv[2] ?? "target/wasm32-unknown-unknown/release/wa_edge.wasm";
const top = Number(process.argv[3] ?? 30);
const bytes = fs.readFileSync(file);
let at = 8;

function leb() {
  let result = 0;
  let shift = 0;
  for (;;) {
    const b = bytes[at++];
    result += (b & 0x7f) * 2 ** shift;
    if (!(b & 0x80)) return result;
    shift += 7;
  }
}
function name() {
  const len = leb();
  const s = bytes.toString("utf8", at, at + len);
  at += len;
  return s;
}

const sections = new Map();
let imported = 0;
const bodies = [];
const names = new Map();
while (at < bytes.length) {
  const id = bytes[at++];
  const size = leb();
  const end = at + size;
  if (id === 0) {
    const start = at;
    const custom = name();
    sections.set(`custom:${custom}`, (sections.get(`custom:${custom}`) ?? 0) + size);
    if (custom === "name") {
      while (at < end) {
        const sub = bytes[at++];
        const subSize = leb();
        const subEnd = at + subSize;
        if (sub === 1) {
          const count = leb();
          for (let i = 0; i < count; i++) {
            const index = leb();
            names.set(index, name());
          }
        }
        at = subEnd;
      }
    }
    at = start;
  } else {
    sections.set(id, size);
    if (id === 2) {
      const count = leb();
      for (let i = 0; i < count; i++) {
        name();
        name();
        const kind = bytes[at++];
        if (kind === 0) {
          imported++;
          leb();
        } else if (kind === 1) {
          at++;
          const flags = leb();
          leb();
          if (flags & 1) leb();
        } else if (kind === 2) {
          const flags = leb();
          leb();
          if (flags & 1) leb();
        } else if (kind === 3) {
          at += 2;
        } else if (kind === 4) {
          at++;
          leb();
        }
      }
    } else if (id === 10) {
      const count = leb();
      for (let i = 0; i < count; i++) {
        const len = leb();
        bodies.push({ index: imported + i, size: len });
        at += len;
      }
    }
  }
  at = end;
}

const SECTION = { 1: "type", 2: "import", 3: "function", 4: "table", 5: "memory", 6: "global", 7: "export", 8: "start", 9: "element", 10: "code", 11: "data", 12: "datacount", 13: "tag" };
console.log(`${file}: ${bytes.length} bytes`);
for (const [id, size] of [...sections].sort((a, b) => b[1] - a[1])) {
  console.log(`  ${String(SECTION[id] ?? id).padEnd(24)} ${String(size).padStart(9)}`);
}

// Rust's legacy mangling, undone enough to read and to group: `_ZN` then length-prefixed path
// segments, with `$LT$`-style escapes and a trailing hash segment.
const ESCAPES = { LT: "<", GT: ">", RF: "&", BP: "*", C: ",", SP: "@", u20: " ", u27: "'", u5b: "[", u5d: "]", u7b: "{", u7d: "}", u3b: ";", u2b: "+", u22: '"' };
function demangle(n) {
  const m = /^_ZN(.*)E$/.exec(n);
  if (!m) return n;
  const parts = [];
  let rest = m[1];
  while (rest.length) {
    const d = /^(\d+)/.exec(rest);
    if (!d) break;
    const len = Number(d[1]);
    parts.push(rest.slice(d[1].length, d[1].length + len));
    rest = rest.slice(d[1].length + len);
  }
  if (/^h[0-9a-f]{16}$/.test(parts.at(-1) ?? "")) parts.pop();
  return parts
    .join("::")
    .replace(/\$([A-Za-z0-9]+)\$/g, (all, e) => ESCAPES[e] ?? all)
    .replace(/\.\./g, "::")
    .replace(/^_/, "");
}
const label = (i) => (names.has(i) ? demangle(names.get(i)) : `func[${i}]`);
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
