"""Start-up steps from perf's scheduler tracepoints (tests/bench/startup_profile.sh).

Reads `perf script -F pid,time,event,trace` of sched_process_exec, _fork and
_exit over runs of `openshell-supervisor ... -- /bin/true`; prints each
step's median and minimum.
"""
import re
import statistics
import sys

supervisor = sys.argv[1]
steps = ["exec to the init's fork", "to the init's fork of the child", "child's fork to exec",
         "/bin/true", "tear-down"]
values = {s: [] for s in steps + ["total"]}
run = None
for line in sys.stdin:
    m = re.match(r"\s*(\d+)\s+([\d.]+):\s+sched:(\w+):\s*(.*)", line)
    if not m:
        continue
    pid, t, event, rest = int(m.group(1)), float(m.group(2)), m.group(3), m.group(4)
    if event == "sched_process_exec" and "filename=" + supervisor in rest:
        run = {"pid": pid, "exec": t}
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
            for name, a, b in zip(steps, marks, marks[1:]):
                values[name].append((b - a) * 1000)
            values["total"].append((t - run["exec"]) * 1000)
        run = None
print("%-34s %10s %10s" % ("step", "median ms", "min ms"))
for name, v in values.items():
    if v:
        if name == "total":
            print("-" * 56)
        print("%-34s %10.2f %10.2f" % (name, statistics.median(v), min(v)))
