"""Start-up steps from perf's scheduler tracepoints (tests/bench/startup_profile.sh).

Reads `perf script -F pid,time,event,trace` of sched_process_exec, _fork and
_exit over alternating runs of `SANDBOX ... /bin/true`, one run at a time,
for each sandbox binary named on the command line (the supervisor, then
bubblewrap as the anchor); prints each step's median per binary, and the
ratio of the first binary's to the second's. Both have the same shape: the
binary forks its init into the new namespaces, the init forks the main
process, which execs /bin/true.
"""
import os
import re
import statistics
import sys

binaries = sys.argv[1:]
steps = ["exec to the init's fork", "to the init's fork of the child", "child's fork to exec",
         "/bin/true", "tear-down"]
values = {b: {s: [] for s in steps + ["exec to the main process running", "total"]}
          for b in binaries}
run = None
for line in sys.stdin:
    m = re.match(r"\s*(\d+)\s+([\d.]+):\s+sched:(\w+):\s*(.*)", line)
    if not m:
        continue
    pid, t, event, rest = int(m.group(1)), float(m.group(2)), m.group(3), m.group(4)
    started = [b for b in binaries if event == "sched_process_exec" and "filename=" + b in rest]
    if started:
        run = {"binary": started[0], "pid": pid, "exec": t}
    elif run is None:
        continue
    elif event == "sched_process_fork":
        child = int(re.search(r"child_pid=(\d+)", rest).group(1))
        if pid == run["pid"] and "init" not in run:
            run["init"], run["init_pid"] = t, child
        elif pid == run.get("init_pid") and "child" not in run:
            run["child"], run["child_pid"] = t, child
    elif event == "sched_process_exec" and pid == run.get("child_pid"):
        run["true"] = t
    elif event == "sched_process_exit" and pid == run.get("child_pid"):
        run["true_exit"] = t
    elif event == "sched_process_exit" and pid == run["pid"]:
        marks = [run.get(k) for k in ("exec", "init", "child", "true", "true_exit")] + [t]
        if None not in marks:
            v = values[run["binary"]]
            for name, a, b in zip(steps, marks, marks[1:]):
                v[name].append((b - a) * 1000)
            v["exec to the main process running"].append((run["true"] - run["exec"]) * 1000)
            v["total"].append((t - run["exec"]) * 1000)
        run = None

names = [os.path.basename(b) for b in binaries]
header = "%-34s" % "step (medians, ms)" + "".join("%22s" % n[:22] for n in names)
if len(binaries) == 2:
    header += "%8s" % "ratio"
print(header)
for step in steps + ["exec to the main process running", "total"]:
    medians = [statistics.median(values[b][step]) if values[b][step] else float("nan")
               for b in binaries]
    if step == "exec to the main process running":
        print("-" * len(header))
    row = "%-34s" % step + "".join("%22.2f" % x for x in medians)
    if len(binaries) == 2 and medians[1] > 0:
        row += "%7.2fx" % (medians[0] / medians[1])
    print(row)
print("runs: " + ", ".join("%s %d" % (n, len(values[b]["total"])) for n, b in zip(names, binaries)))
