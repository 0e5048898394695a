// The benchmark's own workerd processes and their CPU time, from /proc: shared by
// bench/run.mjs and bench/first-request.mjs.
import fs from "node:fs";

/// The parent of a process, from /proc.
function parentOf(pid) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    return Number(/^PPid:\s+(\d+)/m.exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}
/// workerd processes started by this benchmark (its descendants), never another one on the
/// machine (a test run, a dev server).
export function workerdPids() {
  const out = [];
  for (const p of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      if (comm !== "workerd") continue;
      let up = Number(p);
      for (let depth = 0; depth < 4 && up > 1; depth++) {
        up = parentOf(up);
        if (up === process.pid) {
          out.push(Number(p));
          break;
        }
      }
    } catch {}
  }
  return out;
}
/// CPU time of the process's main thread alone, in ns: the isolate's request work, without the
/// compiler and other background threads.
export function mainCpuNs(pid) {
  try {
    return Number(fs.readFileSync(`/proc/${pid}/task/${pid}/schedstat`, "utf8").split(" ")[0]);
  } catch {
    return 0;
  }
}
// CPU time of all the process's threads, in ns (schedstat has ns resolution, unlike stat's ticks).
export function cpuNs(pid) {
  let total = 0;
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, "utf8").split(" ")[0]);
    } catch {}
  }
  return total;
}
