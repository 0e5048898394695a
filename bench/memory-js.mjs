// The JavaScript reference (bench/js-worker.mjs) with the same in-memory stand-ins as wa-edge's
// (bench/stand-ins.mjs).
import reference, { Person as ReferencePerson } from "./js-worker.mjs";
import { count, memoryEnv, memoryState, opCounts } from "./stand-ins.mjs";

export default {
  fetch(request, env, ctx) {
    // The stand-ins' operation counts, for the benchmark.
    if (request.url.endsWith("/__bench/ops")) return opCounts();
    return reference.fetch(request, memoryEnv(env), ctx);
  },
};

export class Person extends ReferencePerson {
  constructor(state, env) {
    // The runtime's own state to `DurableObject`'s constructor, which checks its type; the
    // stand-ins for everything the reference reads.
    super(state, env);
    this.state = memoryState(state);
    this.env = memoryEnv(env);
  }

  serve(text) {
    count("object.serve");
    return super.serve(text);
  }

  alarm() {
    count("object.alarm");
    return super.alarm();
  }
}
