// The worker's entry module (wrangler.toml `main`): worker-build's module as it is, with one
// addition. The runtime lets a stub call an object's methods (RPC) only on a class that extends
// `DurableObject`, which worker-build's `Person` does not; this class is that, and forwards to
// it. The worker calls `serve` this way (`shell::person`): a remote call carries its text as it
// is, where a `fetch` of the object builds a request and a response around it.
import { DurableObject } from "cloudflare:workers";
import Worker, { Person as Authority } from "../build/index.js";

export default Worker;

export class Person extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.authority = new Authority(ctx, env);
  }

  serve(envelope) {
    return this.authority.serve(envelope);
  }

  fetch(request) {
    return this.authority.fetch(request);
  }

  alarm() {
    return this.authority.alarm();
  }
}
