// wa-edge's built worker as the benchmark runs it: the shipped worker and object, the object
// wrapped in a `DurableObject` that forwards to it and counts its calls. With
// `BENCH_STORAGE = "memory"` in the env, KV and Durable Object storage are the benchmark's
// in-memory stand-ins (bench/stand-ins.mjs); otherwise Miniflare's local ones. It forwards the
// object's `fetch` (how wa-edge calls it) and `serve` (how builds that called it by RPC did, for
// a baseline).
import { DurableObject } from "cloudflare:workers";
import Worker, { Person as ShippedPerson } from "../build/index.js";
import { count, memoryEnv, memoryState, opCounts } from "./stand-ins.mjs";

const inMemory = (env) => env.BENCH_STORAGE === "memory";

const serve = Worker.prototype.fetch;

export default {
  fetch(request, env, ctx) {
    // The stand-ins' operation counts, for the benchmark (memory storage only).
    if (inMemory(env) && request.url.endsWith("/__bench/ops")) return opCounts();
    return serve.call({ env: inMemory(env) ? memoryEnv(env) : env, ctx }, request);
  },
};

export class Person extends DurableObject {
  constructor(state, env) {
    super(state, env);
    const memory = inMemory(env);
    this.authority = new ShippedPerson(memory ? memoryState(state) : state, memory ? memoryEnv(env) : env);
  }

  fetch(request) {
    count("object.fetch");
    return this.authority.fetch(request);
  }

  serve(text) {
    count("object.serve");
    return this.authority.serve(text);
  }

  alarm() {
    count("object.alarm");
    return this.authority.alarm();
  }
}
