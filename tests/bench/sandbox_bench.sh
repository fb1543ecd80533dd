#!/usr/bin/env bash
# The sandbox benchmark. Not a pass/fail test: it prints each command and
# its figures.
#
# 1. Start-up: from exec to the main process running, with every layer on
#    (user, mount, PID, IPC, UTS and network namespaces, identity,
#    capabilities, no_new_privs, Landlock as a hard requirement, seccomp),
#    side by side in one run with bubblewrap doing the same job
#    (bwrap --unshare-all ...), alternating. Two figures: the whole run of
#    /bin/true (exec to exit), and exec to the main process running, which
#    the probe marks by printing the CLOCK_MONOTONIC time its main() starts
#    at. Reported as ratios of medians; goal <= 1.0x.
# 2. Seccomp cost: the probe's syscall-bound loop inside the sandbox against
#    the same loop in a bare PID namespace (unshare -pf), where no filter is
#    installed. No policy turns seccomp off, so "outside" is the baseline;
#    the loop calls no syscall Landlock or the namespaces act on, so the
#    difference is the filter's. Reported as a percent; goal <= 5 %. A third
#    run installs a one-instruction allow-all filter outside: what having
#    any filter costs on this kernel (a task with a filter takes the slow
#    syscall-entry path, seccomp(2)), apart from the sandbox's rules.
#
# Usage: tests/bench/sandbox_bench.sh [BUILD_DIR]   (default: build; as root)
# Environment: RUNS (start-up rounds, default 200), LOOP_CALLS
# (syscalls per loop, default 10000000), ROUNDS (loop repetitions, default 5).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
supervisor=$(realpath "$build/supervisor/openshell-supervisor")
probe=$(realpath "$build/tests/escape/probe")
runs=${RUNS:-200}
calls=${LOOP_CALLS:-10000000}
rounds=${ROUNDS:-5}
python=/usr/bin/python3

[ "$(id -u)" = 0 ] || { echo "sandbox_bench: needs root (namespaces)" >&2; exit 1; }
for tool in bwrap unshare "$python"; do
  command -v "$tool" >/dev/null || { echo "sandbox_bench: $tool is missing (tests/setup-machine.sh)" >&2; exit 1; }
done
[ -x "$supervisor" ] && [ -x "$probe" ] || { echo "sandbox_bench: build first ($build)" >&2; exit 1; }

# Not under /tmp: the sandbox's /tmp is its own tmpfs.
work=$(mktemp -d /var/tmp/openshell-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 0755 "$work"
mkdir "$work/sandbox"
chown 1000:1000 "$work/sandbox"
cat >"$work/policy.yaml" <<EOF
version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/usr, /proc, /dev/urandom, /etc, $(dirname "$probe")]
  read_write: [/tmp, /dev/null]
landlock: {compatibility: hard_requirement}
network: {mode: none}
process: {run_as_user: "1000", run_as_group: "1000"}
EOF

echo "== machine"
echo "kernel $(uname -r), $(nproc) cpus; $(bwrap --version)"
echo "speculative store bypass: $(cat /sys/devices/system/cpu/vulnerabilities/spec_store_bypass 2>/dev/null || echo unknown)"
echo
echo "== check"
env -i OPENSHELL_WORKDIR="$work/sandbox" "$supervisor" check --policy "$work/policy.yaml"
echo

# Both started the same way: a cleared environment, no shell; the SSH
# bridge is off, as bwrap serves nothing either. The two run alternately,
# one of each per round, so that a change in the machine's load (2 shared
# cores) falls on both alike; hyperfine would run all of one before the
# other.
ours="env -i OPENSHELL_WORKDIR=$work/sandbox OPENSHELL_SSH_LISTEN=off $supervisor --policy $work/policy.yaml --"
bwrap_cmd="env -i bwrap --unshare-all --die-with-parent --cap-drop ALL --ro-bind / / --proc /proc --dev /dev"
echo "== start-up: $runs rounds of one each, alternating (10 warm-up)"
echo "supervisor: $ours MAIN"
echo "bubblewrap: $bwrap_cmd MAIN"
echo "MAIN is /bin/true for the whole run (exec to exit), then the probe, which prints"
echo "the CLOCK_MONOTONIC time its main() starts at: exec to the main process running."
"$python" - "$runs" "$ours" "$bwrap_cmd" "$probe" <<'EOF'
import statistics, subprocess, sys, time
runs, probe = int(sys.argv[1]), sys.argv[4]
commands = {"supervisor": sys.argv[2].split(), "bwrap": sys.argv[3].split()}
whole = {name: [] for name in commands}
running = {name: [] for name in commands}
bare = []
for i in range(runs + 10):
    for name, argv in commands.items():
        start = time.perf_counter_ns()
        subprocess.run(argv + ["/bin/true"], check=True, stdout=subprocess.DEVNULL)
        end = time.perf_counter_ns()
        # Python's monotonic clock is CLOCK_MONOTONIC, which neither
        # sandbox puts in a time namespace.
        mark = time.monotonic_ns()
        out = subprocess.run(argv + [probe, "started_at"], check=True, capture_output=True, text=True)
        if i >= 10:
            whole[name].append((end - start) / 1e6)
            running[name].append((int(out.stdout.split("ns=")[1]) - mark) / 1e6)
    # What neither sandbox adds: Python's spawn, env, the probe's exec.
    mark = time.monotonic_ns()
    out = subprocess.run(["env", "-i", probe, "started_at"], check=True, capture_output=True, text=True)
    if i >= 10:
        bare.append((int(out.stdout.split("ns=")[1]) - mark) / 1e6)


def table(title, times):
    print(title)
    for name, t in times.items():
        q = statistics.quantiles(t, n=4)
        print("  %-10s median %6.2f ms  mean %6.2f ms  min %6.2f ms  quartiles %.2f..%.2f ms"
              % (name, statistics.median(t), statistics.mean(t), min(t), q[0], q[2]))
    ours, bwrap = statistics.median(times["supervisor"]), statistics.median(times["bwrap"])
    return ours, bwrap, ours / bwrap


ours, bwrap, ratio = table("exec to /bin/true's exit and the sandbox's end (the whole run):", whole)
print("whole run: supervisor %.2f ms, bwrap %.2f ms (medians): ratio %.2fx bwrap" % (ours, bwrap, ratio))
ours, bwrap, ratio = table("exec to the main process running (the probe's main()):", running)
print("start-up: exec to the main process running: supervisor %.2f ms, bwrap %.2f ms (medians): "
      "ratio %.2fx bwrap (goal <= 1.0x)" % (ours, bwrap, ratio))
base = statistics.median(bare)
print("  no sandbox (env -i PROBE started_at): median %.2f ms; without it, supervisor %.2f ms, "
      "bwrap %.2f ms: ratio %.2fx bwrap" % (base, ours - base, bwrap - base, (ours - base) / (bwrap - base)))
print("(after that: the main process, its exit, the tear-down. bwrap exits on its init's word, "
      "before that init and its namespaces are gone; the supervisor exits once it has reaped "
      "the sandbox init)")
EOF
echo

echo "== seccomp cost: $calls calls per loop, $rounds rounds, the three runs alternating"
for syscall in getppid prctl; do
  inside="env -i OPENSHELL_WORKDIR=$work/sandbox OPENSHELL_SSH_LISTEN=off $supervisor --policy $work/policy.yaml -- $probe syscall_loop $syscall $calls"
  outside="unshare -pf --kill-child $probe syscall_loop $syscall $calls"
  allow_all="$outside allow-all-filter"
  arg_filter="$outside arg-filter"
  echo "inside the sandbox:         $inside"
  echo "outside, no filter:         $outside"
  echo "outside, allow-all filter:  $allow_all"
  echo "outside, a filter reading an argument, then allowing: $arg_filter"
  for run in inside outside allow_all arg_filter; do : >"$work/$syscall.$run"; done
  for _ in $(seq "$rounds"); do
    $inside | sed -n 's/.*ns_per_call=//p' >>"$work/$syscall.inside"
    $outside | sed -n 's/.*ns_per_call=//p' >>"$work/$syscall.outside"
    $allow_all | sed -n 's/.*ns_per_call=//p' >>"$work/$syscall.allow_all"
    $arg_filter | sed -n 's/.*ns_per_call=//p' >>"$work/$syscall.arg_filter"
  done
  "$python" - "$syscall" "$work/$syscall" <<'EOF'
import statistics, sys
name, prefix = sys.argv[1], sys.argv[2]
runs = {k: [float(x) for x in open(prefix + "." + k).read().split()]
        for k in ("inside", "outside", "allow_all", "arg_filter")}
med = {k: statistics.median(v) for k, v in runs.items()}
for k in ("outside", "allow_all", "arg_filter", "inside"):
    print("  %-9s %7.1f ns/call (median of %s)" % (k, med[k], runs[k]))
print("%s: the sandbox's filter costs %+.1f %% over an allow-all filter (goal <= 5 %%); "
      "against no filter %+.1f %%, of which any filter at all (allow-all) %+.1f %%"
      % (name, (med["inside"] - med["allow_all"]) / med["allow_all"] * 100,
         (med["inside"] - med["outside"]) / med["outside"] * 100,
         (med["allow_all"] - med["outside"]) / med["outside"] * 100))
print("%s: a two-instruction filter that reads an argument costs %+.1f %% over allow-all "
      "(the floor for any filter the kernel cannot cache for this call)"
      % (name, (med["arg_filter"] - med["allow_all"]) / med["allow_all"] * 100))
EOF
done
