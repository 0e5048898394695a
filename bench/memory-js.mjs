// The JavaScript reference (bench/js-worker.mjs) with the same in-memory stand-ins as wa-edge's
// (bench/stand-ins.mjs).
import reference, { Person as ReferencePerson } from "./js-worker.mjs";
import { memoryEnv, memoryState } from "./stand-ins.mjs";

export default {
  fetch: (request, env, ctx) => reference.fetch(request, memoryEnv(env), ctx),
};

export class Person extends ReferencePerson {
  constructor(state, env) {
    // The runtime's own state to `DurableObject`'s constructor, which checks its type; the
    // stand-ins for everything the reference reads.
    super(state, env);
    this.state = memoryState(state);
    this.env = memoryEnv(env);
  }
}
