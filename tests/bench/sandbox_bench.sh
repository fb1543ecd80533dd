#!/usr/bin/env bash
# The sandbox benchmark. Not a pass/fail test: it prints each command and
# its figures.
#
# 1. Start-up: from exec to the main process running /bin/true with every
#    layer on (user, mount, PID, IPC, UTS and network namespaces, identity,
#    capabilities, no_new_privs, Landlock as a hard requirement, seccomp),
#    side by side in one hyperfine run with bubblewrap doing the same job
#    (bwrap --unshare-all ... /bin/true). Reported as a ratio; goal <= 1.0x.
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
# Environment: RUNS (hyperfine runs per command, default 200), LOOP_CALLS
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
for tool in hyperfine bwrap unshare "$python"; do
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
echo "kernel $(uname -r), $(nproc) cpus; $(hyperfine --version); $(bwrap --version)"
echo "speculative store bypass: $(cat /sys/devices/system/cpu/vulnerabilities/spec_store_bypass 2>/dev/null || echo unknown)"
echo
echo "== check"
env -i OPENSHELL_WORKDIR="$work/sandbox" "$supervisor" check --policy "$work/policy.yaml"
echo

# Both started the same way: a cleared environment, no shell.
ours="env -i OPENSHELL_WORKDIR=$work/sandbox $supervisor --policy $work/policy.yaml -- /bin/true"
bwrap_cmd="env -i bwrap --unshare-all --die-with-parent --cap-drop ALL --ro-bind / / --proc /proc --dev /dev /bin/true"
echo "== start-up: exec to /bin/true ($runs runs each, 20 warm-up)"
echo "supervisor: $ours"
echo "bubblewrap: $bwrap_cmd"
hyperfine -N --warmup 20 --runs "$runs" --export-json "$work/startup.json" \
  -n supervisor "$ours" -n bwrap "$bwrap_cmd"
"$python" - "$work/startup.json" <<'EOF'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
ours, bwrap = results["supervisor"], results["bwrap"]
print("start-up: supervisor %.2f ms (median %.2f), bwrap %.2f ms (median %.2f): ratio %.2fx bwrap (goal <= 1.0x)"
      % (ours["mean"] * 1e3, ours["median"] * 1e3, bwrap["mean"] * 1e3, bwrap["median"] * 1e3,
         ours["mean"] / bwrap["mean"]))
EOF
echo

echo "== seccomp cost: $calls calls per loop, $rounds rounds, the three runs alternating"
for syscall in getppid prctl; do
  inside="env -i OPENSHELL_WORKDIR=$work/sandbox $supervisor --policy $work/policy.yaml -- $probe syscall_loop $syscall $calls"
  outside="unshare -pf --kill-child $probe syscall_loop $syscall $calls"
  allow_all="$outside allow-all-filter"
  echo "inside the sandbox:         $inside"
  echo "outside, no filter:         $outside"
  echo "outside, allow-all filter:  $allow_all"
  for run in inside outside allow_all; do : >"$work/$syscall.$run"; done
  for _ in $(seq "$rounds"); do
    $inside | sed -n 's/.*ns_per_call=//p' >>"$work/$syscall.inside"
    $outside | sed -n 's/.*ns_per_call=//p' >>"$work/$syscall.outside"
    $allow_all | sed -n 's/.*ns_per_call=//p' >>"$work/$syscall.allow_all"
  done
  "$python" - "$syscall" "$work/$syscall" <<'EOF'
import statistics, sys
name, prefix = sys.argv[1], sys.argv[2]
runs = {k: [float(x) for x in open(prefix + "." + k).read().split()]
        for k in ("inside", "outside", "allow_all")}
med = {k: statistics.median(v) for k, v in runs.items()}
for k in ("outside", "allow_all", "inside"):
    print("  %-9s %7.1f ns/call (median of %s)" % (k, med[k], runs[k]))
print("%s: seccomp cost inside %+.1f %% against no filter (goal <= 5 %%); "
      "an allow-all filter alone costs %+.1f %%"
      % (name, (med["inside"] - med["outside"]) / med["outside"] * 100,
         (med["allow_all"] - med["outside"]) / med["outside"] * 100))
EOF
done
