// The worker's entry module (wrangler.toml `main`): worker-build's module (build/index.js), with
// the per-person authority's class made a `DurableObject`. The runtime lets a stub call an
// object's methods directly (RPC) only on such a class, and the worker calls `serve` that way:
// no Request or Response is built on either side (`shell::person`). Everything else is Rust's.
import { DurableObject } from "cloudflare:workers";
import Worker, { Person as Authority } from "../build/index.js";

// The worker's `fetch`, called as worker-build's entry class calls it (with `this.env` and
// `this.ctx`) but without constructing that class for each request: worker-build exports it
// wrapped in proxies that rebuild objects after a crash, which the worker's entry has none of (a
// crash is recovered by wasm-bindgen, which starts a new instance before the next call).
const serve = Worker.prototype.fetch;

export default {
  fetch(request, env, ctx) {
    return serve.call({ env, ctx }, request);
  },
};

export class Person extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    // worker-build's class, which rebuilds itself on a fresh instance after a crash.
    this.authority = new Authority(ctx, env);
  }

  serve(text) {
    return this.authority.serve(text);
  }

  alarm() {
    return this.authority.alarm();
  }
}
