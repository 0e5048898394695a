// In-memory stand-ins for Workers KV and Durable Object storage, of equal cost for every worker
// the benchmark runs (`BENCH_STORAGE=memory`, the default): the same JavaScript serves wa-edge's
// calls and the JS reference's, so what differs between them is the worker's own CPU, not local
// KV's SQLite work inside workerd (which dominated and varied ±30-60 % between runs).
// They keep the platform's shapes: KV `get` (one key or an array → Map), `getWithMetadata`,
// `put` with expiration and metadata, `list` by prefix with cursor; storage `get` (key or array →
// Map), `put` (key and value, or an object), `delete`, `list` in key order, alarms passed to the
// real storage (so they fire as they do in production).

/// Every call a worker makes on the stand-ins, by name (`kv.get`, `storage.put`, `alarm.set`,
/// ...), and the objects' own entry points (`object.serve`, counted by the entries): the
/// benchmark reads them over `GET /__bench/ops` before and after measuring, so both workers'
/// operations per request are seen, not assumed. A bulk get or put is one call.
const counts = new Map();
export function count(name) {
  counts.set(name, (counts.get(name) ?? 0) + 1);
}
/// The counts so far, as `GET /__bench/ops` answers them.
export function opCounts() {
  return Response.json(Object.fromEntries(counts));
}

/// Keys kept in order, so a listing by prefix costs what it costs in a real store (a seek, then
/// the matches), not a scan and sort of everything. In sorted chunks of at most `CHUNK` keys,
/// so a write costs about the same with 300 keys or 300,000 (a long warm-up of status batches
/// writes that many, and one sorted array made each insert a copy of all of them).
const CHUNK = 512;
/// The first index in the sorted `keys` whose key is not below `key`.
function lowerBound(keys, key) {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (keys[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
class Ordered {
  chunks = [[]];
  values = new Map();
  /// The chunk that holds `key`, or would: the last one whose first key is not above it.
  #chunk(key) {
    let lo = 0;
    let hi = this.chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.chunks[mid][0] <= key) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
  has(key) {
    return this.values.has(key);
  }
  get(key) {
    return this.values.get(key);
  }
  set(key, value) {
    if (!this.values.has(key)) {
      const c = this.#chunk(key);
      const keys = this.chunks[c];
      keys.splice(lowerBound(keys, key), 0, key);
      if (keys.length > 2 * CHUNK) this.chunks.splice(c + 1, 0, keys.splice(CHUNK));
    }
    this.values.set(key, value);
  }
  delete(key) {
    if (!this.values.delete(key)) return false;
    const c = this.#chunk(key);
    const keys = this.chunks[c];
    keys.splice(lowerBound(keys, key), 1);
    if (keys.length === 0 && this.chunks.length > 1) this.chunks.splice(c, 1);
    return true;
  }
  clear() {
    this.chunks = [[]];
    this.values.clear();
  }
  /// Keys from `start` (or the prefix) while they carry the prefix, at most `limit`.
  *range(prefix = "", start = prefix, limit = Infinity) {
    let n = 0;
    let c = this.#chunk(start);
    let i = lowerBound(this.chunks[c], start);
    for (; c < this.chunks.length; c++, i = 0) {
      const keys = this.chunks[c];
      for (; i < keys.length && n < limit; i++) {
        const key = keys[i];
        if (!key.startsWith(prefix)) return;
        if (key === start && start !== prefix) continue;
        n++;
        yield key;
      }
      if (n >= limit) return;
    }
  }
}

export class MemoryKv {
  #data = new Ordered();
  #live(key) {
    const e = this.#data.get(key);
    if (!e) return undefined;
    if (e.expiration && e.expiration * 1000 <= Date.now()) {
      this.#data.delete(key);
      return undefined;
    }
    return e;
  }
  async get(key, options) {
    count("kv.get");
    const json = (options === "json" || options?.type === "json");
    const value = (k) => {
      const e = this.#live(k);
      if (!e) return null;
      return json ? JSON.parse(e.value) : e.value;
    };
    if (Array.isArray(key)) return new Map(key.map((k) => [k, value(k)]));
    return value(key);
  }
  async getWithMetadata(key) {
    count("kv.getWithMetadata");
    const e = this.#live(key);
    return { value: e ? e.value : null, metadata: e?.metadata ?? null };
  }
  async put(key, value, options = {}) {
    count("kv.put");
    const expiration = options.expiration ?? (options.expirationTtl ? Math.floor(Date.now() / 1000) + options.expirationTtl : undefined);
    this.#data.set(key, { value: String(value), expiration, metadata: options.metadata });
  }
  async delete(key) {
    count("kv.delete");
    this.#data.delete(key);
  }
  async list({ prefix = "", cursor, limit = 1000 } = {}) {
    count("kv.list");
    const keys = [];
    for (const name of this.#data.range(prefix, cursor ?? prefix, limit + 1)) {
      const e = this.#live(name);
      if (e) keys.push({ name, ...(e.expiration ? { expiration: e.expiration } : {}), ...(e.metadata !== undefined ? { metadata: e.metadata } : {}) });
    }
    const more = keys.length > limit;
    if (more) keys.length = limit;
    return more ? { keys, list_complete: false, cursor: keys[keys.length - 1].name } : { keys, list_complete: true };
  }
}

export class MemoryStorage {
  #data = new Ordered();
  #real;
  constructor(real) {
    this.#real = real;
  }
  async get(key) {
    count("storage.get");
    if (Array.isArray(key)) {
      const out = new Map();
      for (const k of key) if (this.#data.has(k)) out.set(k, this.#data.get(k));
      return out;
    }
    return this.#data.get(key);
  }
  async put(key, value) {
    count("storage.put");
    if (typeof key === "object") for (const [k, v] of Object.entries(key)) this.#data.set(k, v);
    else this.#data.set(key, value);
  }
  async delete(key) {
    count("storage.delete");
    if (Array.isArray(key)) return key.filter((k) => this.#data.delete(k)).length;
    return this.#data.delete(key);
  }
  async deleteAll() {
    count("storage.deleteAll");
    this.#data.clear();
  }
  async list({ prefix = "", start, limit } = {}) {
    count("storage.list");
    const out = new Map();
    for (const k of this.#data.range(prefix, start ?? prefix, limit ?? Infinity)) out.set(k, this.#data.get(k));
    return out;
  }
  setAlarm(at, options) {
    count("alarm.set");
    return this.#real.setAlarm(at, options);
  }
  getAlarm(options) {
    count("alarm.get");
    return this.#real.getAlarm(options);
  }
  deleteAlarm(options) {
    count("alarm.delete");
    return this.#real.deleteAlarm(options);
  }
  sync() {
    return Promise.resolve();
  }
}

// One KV for the isolate (the worker and its Durable Objects share it, as they share the binding),
// one storage per object (kept by id, so it outlives an evicted instance as real storage would).
const kv = new MemoryKv();
const storages = new Map();
const envs = new WeakMap();

/// The worker's env with the KV binding replaced by the stand-in.
export function memoryEnv(env) {
  let out = envs.get(env);
  if (!out) {
    out = { ...env, WHATSAPP_KV: kv };
    envs.set(env, out);
  }
  return out;
}

/// A Durable Object's state with its storage replaced by the stand-in.
export function memoryState(state) {
  const id = state.id.toString();
  if (!storages.has(id)) storages.set(id, new MemoryStorage(state.storage));
  const storage = storages.get(id);
  return new Proxy(state, {
    get(target, prop) {
      if (prop === "storage") return storage;
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
