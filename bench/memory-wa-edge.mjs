// wa-edge's built worker with the benchmark's in-memory KV and Durable Object storage
// (bench/stand-ins.mjs): only the bindings change, the worker and its object are the shipped ones.
import Worker, { Person as ShippedPerson } from "../build/index.js";
import { memoryEnv, memoryState } from "./stand-ins.mjs";

export default class extends Worker {
  constructor(ctx, env) {
    super(ctx, memoryEnv(env));
  }
}

export class Person extends ShippedPerson {
  constructor(state, env) {
    super(memoryState(state), memoryEnv(env));
  }
}
