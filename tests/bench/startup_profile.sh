#!/usr/bin/env bash
# Where the supervisor's start-up time goes. Not a pass/fail test: it runs
# the start-up of tests/bench/sandbox_bench.sh (every layer on, /bin/true)
# under strace -f -ttt and cuts each run's timeline at syscalls that mark
# the steps, then prints each step's median and minimum over the runs.
#
#   process start    execve of the supervisor -> open of the policy file
#                    (static initialisers, flag and environment parsing)
#   policy           policy open -> clone of the sandbox init
#                    (load, validate, compile plans and the BPF program)
#   mounts           clone -> pivot_root in the sandbox init
#   id maps          pivot_root -> the init's receipt of the parent's answer
#                    (unshare(CLONE_NEWUSER), a control round trip, the
#                    parent writing uid_map and gid_map)
#   landlock         -> landlock_restrict_self
#   spawn request    -> the init's receipt of the SpawnRequest (a report
#                    and a request, one more round trip)
#   spawn child      -> execve("/bin/true") (clone, identity, capabilities,
#                    no_new_privs, seccomp in the child)
#   /bin/true        -> its exit
#   tear-down        -> the supervisor's exit
#
# strace stops the tracee at every syscall, so the absolute figures are
# inflated (more so for the steps made of many small syscalls: the
# capability steps, the mounts); compare steps with each other. The
# untraced start-up beside bubblewrap's is tests/bench/sandbox_bench.sh.
#
# Usage: tests/bench/startup_profile.sh [BUILD_DIR]   (default: build; as root)
# Environment: RUNS (traced runs, default 20).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
supervisor=$(realpath "$build/supervisor/openshell-supervisor")
runs=${RUNS:-20}

[ "$(id -u)" = 0 ] || { echo "startup_profile: needs root (namespaces)" >&2; exit 1; }
for tool in strace python3; do
  command -v "$tool" >/dev/null || { echo "startup_profile: $tool is missing" >&2; exit 1; }
done

work=$(mktemp -d /var/tmp/openshell-profile-XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 0755 "$work"
mkdir "$work/sandbox"
chown 1000:1000 "$work/sandbox"
cp tests/support/minimal-policy.yaml "$work/policy.yaml"

echo "== machine"
echo "kernel $(uname -r), $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg); $(strace -V | head -n 1)"
echo
ours=(env -i OPENSHELL_WORKDIR="$work/sandbox" OPENSHELL_SSH_LISTEN=off "$supervisor" --policy "$work/policy.yaml" -- /bin/true)
echo "== $runs traced runs: strace -f -ttt -T ${ours[*]}"
for i in $(seq "$runs"); do
  strace -f -ttt -T -s 32 -o "$work/trace.$i" "${ours[@]}"
done
python3 - "$work" "$runs" "$supervisor" <<'EOF'
import re, statistics, sys
work, runs, supervisor = sys.argv[1], int(sys.argv[2]), sys.argv[3]
# (step, pattern of the syscall that ends it); searched in order, each after
# the previous mark.
marks = [
    ("process start", r'openat\(AT_FDCWD, "[^"]*policy\.yaml"'),
    ("policy", r'clone\(.*CLONE_NEWPID'),
    ("mounts", r'pivot_root\('),
    ("id maps", r'(recvmsg\(3, |recvmsg resumed>)\{msg_name=NULL.*iov_base="\\32'),
    ("landlock", r'landlock_restrict_self\('),
    ("spawn request", r'(recvmsg\(3, |recvmsg resumed>)\{msg_name=NULL.*/bin/true'),
    ("spawn child", r'execve\("/bin/true"'),
    ("/bin/true", r'\+\+\+ exited with'),
]
steps = {name: [] for name, _ in marks + [("tear-down", None), ("total", None)]}
counts = {name: [] for name, _ in marks}
for i in range(1, runs + 1):
    lines = open("%s/trace.%d" % (work, i), errors="replace").read().splitlines()
    start = next(n for n, l in enumerate(lines) if 'execve("%s"' % supervisor in l)
    t0 = prev = float(lines[start].split()[1])
    at = start
    ok = True
    for name, pattern in marks:
        found = None
        for n in range(at + 1, len(lines)):
            # An interrupted call's timestamp is its start; "resumed" lines
            # carry the end. Either marks the step closely enough.
            if re.search(pattern, lines[n]):
                found = n
                break
        if found is None:
            ok = False
            break
        t = float(lines[found].split()[1])
        steps[name].append((t - prev) * 1000)
        counts[name].append(found - at)
        prev, at = t, found
    if not ok:
        print("run %d: a mark was not found; skipped" % i)
        continue
    end = float(lines[-1].split()[1])
    steps["tear-down"].append((end - prev) * 1000)
    steps["total"].append((end - t0) * 1000)
print("%-16s %10s %10s %10s" % ("step", "median ms", "min ms", "syscalls"))
for name, values in steps.items():
    if not values:
        continue
    c = ("%10d" % statistics.median(counts[name])) if counts.get(name) else ""
    if name == "total":
        print("-" * 50)
    print("%-16s %10.2f %10.2f %s" % (name, statistics.median(values), min(values), c))
EOF
echo

# strace stops every syscall; the scheduler's tracepoints cost next to
# nothing, so this second table is close to the untraced start-up. It has
# only the steps that are process events: the supervisor's exec, its fork of
# the sandbox init (after the policy load and compile, with the new
# namespaces made by that clone), the init's fork of the main process (after
# the mounts, id maps and Landlock, and the spawn request), the main
# process's exec and exit, and the supervisor's exit. bubblewrap has the
# same shape (it forks its init into the namespaces, which forks the
# command) and runs alternately in the same recording, as the anchor.
events=$(command -v perf >/dev/null && perf list 2>/dev/null || true)
if [[ $events == *sched:sched_process_fork* ]]; then
  bwrap=$(command -v bwrap)  # by path: the exec event names the file
  bwrap_cmd=(env -i "$bwrap" --unshare-all --die-with-parent --cap-drop ALL --ro-bind / / --proc /proc --dev /dev /bin/true)
  echo "== $runs runs of each, alternating, under perf's scheduler tracepoints (sched_process_exec, _fork, _exit)"
  echo "bubblewrap: ${bwrap_cmd[*]}"
  perf record -q -a -o "$work/sched.data" \
    -e sched:sched_process_exec -e sched:sched_process_fork -e sched:sched_process_exit \
    -- bash -c 'for _ in $(seq "$1"); do "${@:3:$2}"; "${@:$(($2 + 3))}"; done' \
    sh "$runs" "${#ours[@]}" "${ours[@]}" "${bwrap_cmd[@]}" 2>/dev/null
  perf script -i "$work/sched.data" -F pid,time,event,trace 2>/dev/null |
    python3 tests/bench/sched_timeline.py "$supervisor" "$bwrap"
  echo
  # Page faults: on a VM each costs the guest's fault path and often an
  # exit to the host; where start-up time goes that strace does not show.
  # The cost of one fault on this machine is printed beside the counts.
  echo "== page faults and CPU time, whole process tree ($runs runs of each): perf stat -e page-faults,task-clock"
  for label in supervisor bubblewrap; do
    if [ "$label" = supervisor ]; then cmd=("${ours[@]}"); else cmd=("${bwrap_cmd[@]}"); fi
    perf stat -x, -r "$runs" -e page-faults,task-clock -- "${cmd[@]}" 2>&1 >/dev/null |
      awk -F, -v l="$label" '$3 == "page-faults" { f = $1 } $3 == "task-clock" { t = $1 }
        END { printf "%-11s %6d page faults  %6.2f ms CPU\n", l, f, t }'
  done
  python3 - <<'FAULTS'
import mmap, os, time
pages = 2000
def touch(m):
    t = time.perf_counter()
    for i in range(pages):
        m[i * 4096] = 1
    return (time.perf_counter() - t) / pages * 1e6
m = mmap.mmap(-1, pages * 4096)
first = touch(m)
r, w = os.pipe()
if os.fork() == 0:
    os.write(w, b"%.1f" % touch(m))
    os._exit(0)
os.wait()
again = touch(m)
print("one fault here: first touch of a page %.1f us, copy-on-write after fork %s us; "
      "a touch without a fault %.1f us" % (first, os.read(r, 32).decode(), again))
FAULTS
  echo
else
  echo "(no perf with scheduler tracepoints here: Debian's linux-perf gives the untraced table)"
  echo
fi
echo "untraced, beside bubblewrap: tests/bench/sandbox_bench.sh $build"
