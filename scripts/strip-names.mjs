// Drops the debug-only custom sections (`name`, `producers`) from a wasm file, in place, and
// nothing else: the code and every other section stay byte for byte. (wasm-opt can strip them
// too, but rewrites the module with its own feature set, which workerd refused to load.)
import { readFileSync, writeFileSync } from "node:fs";

const DROP = new Set(["name", "producers"]);
const file = process.argv[2];
const wasm = readFileSync(file);

function leb(buf, at) {
  let value = 0, shift = 0, byte;
  do {
    byte = buf[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return [value, at];
}

const kept = [wasm.subarray(0, 8)];
let at = 8;
while (at < wasm.length) {
  const start = at;
  const id = wasm[at++];
  const [size, body] = leb(wasm, at);
  const end = body + size;
  let drop = false;
  if (id === 0) {
    const [nameLength, nameAt] = leb(wasm, body);
    drop = DROP.has(wasm.subarray(nameAt, nameAt + nameLength).toString("utf8"));
  }
  if (!drop) kept.push(wasm.subarray(start, end));
  at = end;
}
writeFileSync(file, Buffer.concat(kept));
