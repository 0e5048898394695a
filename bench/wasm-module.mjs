// The parts of a wasm module the benchmark's tools read: section sizes, function bodies and the
// name section (bench/wasm-sizes.mjs, bench/compile-trace.mjs). Nothing to install.

/// Sections by id (custom ones as `custom:<name>`) with their sizes, the function bodies (their
/// index in the function index space, and size), and the names of the name section.
export function readModule(bytes) {
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
  return { sections, bodies, names };
}

// Rust's legacy mangling, undone enough to read and to group: `_ZN` then length-prefixed path
// segments, with `$LT$`-style escapes and a trailing hash segment.
const ESCAPES = { LT: "<", GT: ">", RF: "&", BP: "*", C: ",", SP: "@", u20: " ", u27: "'", u5b: "[", u5d: "]", u7b: "{", u7d: "}", u3b: ";", u2b: "+", u22: '"' };
export function demangle(n) {
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

/// A function's readable name, or its index when the module has no name for it.
export function labeller(names) {
  return (i) => (names.has(i) ? demangle(names.get(i)) : `func[${i}]`);
}
