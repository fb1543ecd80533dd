#!/bin/bash
# SSH bridge against Debian's OpenSSH sshd, side by side in one run on
# loopback: same ssh client, same Ed25519 client key, same host key type,
# KexAlgorithms=curve25519-sha256. Not pass/fail: prints figures and ratios.
#
# Usage: tests/bench/ssh_bench.sh BUILD_DIR [ROUNDS] [SESSIONS]
#   BUILD_DIR is a meson build dir; XFER_ROUNDS (3) sets the 1 GiB transfers
#   per server and direction. BRIDGE=supervisor (default) measures the
#   real supervisor with every session in the sandbox; BRIDGE=test-server
#   the same bridge with a plain fork/exec launcher.
set -uo pipefail

BUILD=${1:?usage: ssh_bench.sh BUILD_DIR [ROUNDS] [SESSIONS]}
ROUNDS=${2:-30}
SESSIONS=${3:-200}
XFER_ROUNDS=${XFER_ROUNDS:-3}  # 1 GiB transfers per server and direction
SERVER=$(realpath "$BUILD/tests/ssh/ssh-test-server")
SSHD=/usr/sbin/sshd
[ -x "$SSHD" ] || { echo "needs openssh-server ($SSHD)"; exit 2; }

WORK=$(mktemp -d /tmp/ssh-bench.XXXXXX)
chmod 755 "$WORK"  # sshd reads authorized_keys as the user
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  pkill -P $$ 2>/dev/null || true
  rm -rf "$WORK" "${SANDBOX_DIR:-}"
  if [ -n "${CREATED_USER:-}" ]; then
    # Sessions sshd left behind run as the user this script created.
    pkill -KILL -u "$(id -u "$BENCH_USER")" 2>/dev/null || true
    sleep 0.5
    userdel "$BENCH_USER" 2>/dev/null || true
  fi
}
trap cleanup EXIT

# sshd runs commands through the user's login shell; root's bash here
# sources ~/.bashrc for ssh commands (Debian's SSH_SOURCE_BASHRC), which would
# charge sshd for a slow rc file. A throwaway user with /bin/sh, like the
# bridge's test launcher, keeps the comparison about the servers.
BENCH_USER=openshell-bench
if ! id "$BENCH_USER" >/dev/null 2>&1; then
  # "*": no password, yet not a locked account (sshd refuses those).
  useradd --system --password "*" --no-create-home --home-dir "$WORK" --shell /bin/sh "$BENCH_USER"
  CREATED_USER=1
fi
ssh-keygen -q -t ed25519 -N '' -f "$WORK/client"
ssh-keygen -q -t ed25519 -N '' -f "$WORK/host"
cp "$WORK/client.pub" "$WORK/authorized_keys"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

if [ "${BRIDGE:-supervisor}" = supervisor ]; then
  # --- the bridge in the real supervisor: PID 1 of a fresh PID namespace,
  # every session started in the sandbox (namespaces, Landlock, seccomp).
  SUPERVISOR=$(realpath "$BUILD/supervisor/openshell-supervisor")
  SANDBOX_DIR=$(mktemp -d /var/tmp/ssh-bench-sandbox.XXXXXX)  # not under the sandbox's fresh /tmp
  chmod 755 "$SANDBOX_DIR"
  mkdir "$SANDBOX_DIR/work"
  chown 1000:1000 "$SANDBOX_DIR/work"
  # The default policy plus /dev/zero, which the transfer test reads.
  cat >"$SANDBOX_DIR/policy.yaml" <<POLICY
version: 1
filesystem_policy:
  include_workdir: true
  read_only: [/usr, /lib, /proc, /dev/urandom, /dev/zero, /etc]
  read_write: [/tmp, /dev/null]
landlock: { compatibility: best_effort }
POLICY
  BRIDGE_PORT=$(free_port)
  OPENSHELL_SSH_LISTEN=127.0.0.1:$BRIDGE_PORT OPENSHELL_SSH_AUTHORIZED_KEYS_FILE=$WORK/authorized_keys \
    OPENSHELL_SSH_HOST_KEY_FILE=$WORK/host OPENSHELL_WORKDIR=$SANDBOX_DIR/work \
    OPENSHELL_POLICY_FILE=$SANDBOX_DIR/policy.yaml \
    unshare --pid --fork --kill-child "$SUPERVISOR" -- sleep 100000 2>"$WORK/bridge.log" &
  UNSHARE_PID=$!
  PIDS+=("$UNSHARE_PID")
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$BRIDGE_PORT") 2>/dev/null && break
    sleep 0.05
  done
  BRIDGE_PID=$(cat "/proc/$UNSHARE_PID/task/$UNSHARE_PID/children" | awk '{print $1}')
  PIDS+=("$BRIDGE_PID")  # unshare(1) ignores SIGTERM while it waits: stop the supervisor itself
  BRIDGE_KIND="supervisor (sessions in the sandbox)"
else
  # --- the bridge in the test server: same bridge, fork/exec launcher, no sandbox
  "$SERVER" --authorized-keys "$WORK/authorized_keys" --host-key "$WORK/host" \
    --listen 127.0.0.1:0 --info-file "$WORK/bridge.info" 2>"$WORK/bridge.log" &
  BRIDGE_PID=$!
  PIDS+=("$BRIDGE_PID")
  for _ in $(seq 100); do [ -f "$WORK/bridge.info" ] && break; sleep 0.05; done
  BRIDGE_PORT=$(awk '/^listen/{n=split($2,a,":"); print a[n]}' "$WORK/bridge.info")
  BRIDGE_KIND="test server (no sandbox)"
fi

# --- OpenSSH sshd with its own configuration, nothing from /etc/ssh
SSHD_PORT=$(free_port)
mkdir -p /run/sshd
cat >"$WORK/sshd_config" <<CFG
Port $SSHD_PORT
ListenAddress 127.0.0.1
HostKey $WORK/host
AuthorizedKeysFile $WORK/authorized_keys
PidFile $WORK/sshd.pid
StrictModes no
UsePAM no
PermitRootLogin no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
MaxStartups 1000
MaxSessions 10
LogLevel ERROR
Subsystem sftp internal-sftp
CFG
"$SSHD" -D -e -f "$WORK/sshd_config" 2>"$WORK/sshd.log" &
SSHD_PID=$!
PIDS+=("$SSHD_PID")
sleep 0.5

for port in "$BRIDGE_PORT" "$SSHD_PORT"; do
  echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$WORK/host.pub")" >>"$WORK/known_hosts"
done
SSH=(ssh -F /dev/null -i "$WORK/client" -o BatchMode=yes -o IdentitiesOnly=yes
     -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$WORK/known_hosts"
     -o KexAlgorithms=curve25519-sha256 -l "$BENCH_USER")

now() { date +%s.%N; }
ratio() { python3 -c "print(f'{$1/$2:.3g}')"; }

roundtrip() {  # average seconds of `ssh host true`
  local port=$1 start end
  "${SSH[@]}" -p "$port" 127.0.0.1 true  # warm up
  start=$(now)
  for _ in $(seq "$ROUNDS"); do "${SSH[@]}" -p "$port" 127.0.0.1 true; done
  end=$(now)
  python3 -c "print(f'{($end-$start)/$ROUNDS*1000:.1f}')"
}

# The OpenSSH client decrypts (or encrypts) every byte on the same machine:
# at 100 % of one CPU it, not the server, sets the rate, and no server can
# go faster. Its CPU share is printed beside each rate.
busy_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }  # user nice system irq softirq
own_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
transfer() {  # "MB/s client-CPU-% machine-CPU-s bridge-CPU-s" for 1 GiB from stdin or to
              # stdout; $1 = port, $2 = remote command. CPU seconds are for the whole
              # transfer; the bridge's is its own process's (0 for sshd).
  local times m0 m1 b0=0 b1=0
  m0=$(busy_ticks)
  [ "$1" = "$BRIDGE_PORT" ] && b0=$(own_ticks "$BRIDGE_PID")
  times=$( { TIMEFORMAT='%R %U %S'; time "${SSH[@]}" -c aes128-gcm@openssh.com -p "$1" \
             127.0.0.1 "$2" >/dev/null 2>/dev/null; } 2>&1 )
  m1=$(busy_ticks)
  [ "$1" = "$BRIDGE_PORT" ] && b1=$(own_ticks "$BRIDGE_PID")
  python3 -c "r, u, s = map(float, '$times'.split()); t = $(getconf CLK_TCK)
print(f'{1024 / r:.0f} {100 * (u + s) / r:.0f} {($m1 - $m0) / t:.2f} {($b1 - $b0) / t:.2f}')"
}

kib() { awk '/^'"$2"':/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
pss() { awk '/^Pss:/{print $2}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
measure() {  # $1 = pid, $2 = VmRSS, Pss or fds
  case $2 in Pss) pss "$1" ;; fds) fds "$1" ;; *) kib "$1" "$2" ;; esac
}
sshd_total() {  # $1 = VmRSS, Pss or fds: the listener and every sshd it forked
  local sum=0 p
  for p in $(pgrep -f "sshd.*$WORK/sshd_config|sshd: $BENCH_USER" || true); do
    sum=$((sum + $(measure "$p" "$1")))
  done
  echo "$sum"
}
memory() {  # VmRSS PSS descriptors of the bridge or of all of sshd
  local m
  for m in VmRSS Pss fds; do
    if [ "$1" = bridge ]; then measure "$BRIDGE_PID" "$m"; else sshd_total "$m"; fi
  done | paste -sd' '
}

idle_sessions() {  # opens $SESSIONS idle sessions on $1; prints the count that started, then
                   # per-session growth of RSS and PSS (KiB) and descriptors, then total RSS (KiB)
  local port=$1 kind=$2 i started rss0 pss0 fd0 rss1 pss1 fd1 clients=()
  read -r rss0 pss0 fd0 < <(memory "$kind")
  for i in $(seq "$SESSIONS"); do
    # From 100 loopback addresses, for both servers alike: the bridge admits
    # 8 unauthenticated connections per source address at a time.
    "${SSH[@]}" -p "$port" -o BindAddress=127.0.0.$((2 + i % 100)) 127.0.0.1 'echo up; exec sleep 600' \
      </dev/null >"$WORK/idle.$kind.$i" 2>&1 &
    clients+=($!)
    [ $((i % 20)) -eq 0 ] && sleep 0.3
  done
  for _ in $(seq 60); do  # until every session has printed, or a minute
    started=$(cat "$WORK"/idle."$kind".* | grep -c '^up$')
    [ "$started" -ge "$SESSIONS" ] && break
    sleep 1
  done
  sleep 2
  read -r rss1 pss1 fd1 < <(memory "$kind")
  kill "${clients[@]}" 2>/dev/null || true
  wait "${clients[@]}" 2>/dev/null || true
  rm -f "$WORK"/idle."$kind".*
  sleep 1
  echo "$started $(( (rss1 - rss0) / SESSIONS )) $(( (pss1 - pss0) / SESSIONS ))" \
       "$(python3 -c "print(f'{($fd1-$fd0)/$SESSIONS:.1f}')") $rss1"
}

echo "machine: kernel $(uname -r), $(nproc) cpus, $(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "bridge: $BRIDGE_KIND"
echo "ssh bridge vs OpenSSH $(ssh -V 2>&1 | cut -d, -f1) sshd; client key ed25519, host key ed25519, kex curve25519-sha256"
echo
# Memory first, on fresh servers: later runs would leave freed heap behind
# that the bridge reuses, flattering its figure.
read -r b_up b_rss b_pss b_fd b_total < <(idle_sessions "$BRIDGE_PORT" bridge)
read -r s_up s_rss s_pss s_fd s_total < <(idle_sessions "$SSHD_PORT" sshd)
echo "$SESSIONS idle sessions at once (started: bridge $b_up, sshd $s_up); server growth per session:"
echo "   RSS: bridge ${b_rss} KiB   sshd ${s_rss} KiB   ratio $(ratio "$b_rss" "$s_rss")x"
echo "   PSS: bridge ${b_pss} KiB   sshd ${s_pss} KiB   ratio $(ratio "$b_pss" "$s_pss")x"
echo "   descriptors: bridge ${b_fd}   sshd ${s_fd}"
echo "   total RSS with every session open: bridge $((b_total / 1024)) MiB   sshd $((s_total / 1024)) MiB"
echo "(bridge: one process; sshd: the listener plus the two processes it forks per connection;"
echo " the sessions' own 'sleep' processes are counted for neither)"
b_rt=$(roundtrip "$BRIDGE_PORT"); s_rt=$(roundtrip "$SSHD_PORT")
echo "ssh host true, mean of $ROUNDS:   bridge ${b_rt} ms   sshd ${s_rt} ms   ratio $(ratio "$b_rt" "$s_rt")x (lower is better)"
# The transfers alternate, the bridge first in odd rounds and sshd first in
# even ones, and each figure is the median of its rounds: on a shared VM one
# server's rate moves by a third from one minute to the next, and a single
# pair measured drift as much as either server.
pair() {  # $1 = download|upload, $2 = bridge|sshd: "MB/s client-% machine-CPU-s bridge-CPU-s"
  local port=$SSHD_PORT
  [ "$2" = bridge ] && port=$BRIDGE_PORT
  if [ "$1" = download ]; then
    transfer "$port" 'head -c 1G /dev/zero' </dev/null
  else
    head -c 1G /dev/zero | transfer "$port" 'cat >/dev/null'
  fi
}
declare -A runs
for direction in download upload; do
  for round in $(seq "$XFER_ROUNDS"); do
    order="bridge sshd"
    [ $((round % 2)) = 0 ] && order="sshd bridge"
    for server in $order; do
      runs[$direction.$server]+="$(pair "$direction" "$server");"
    done
  done
done
# AES-128-GCM's own rate on this CPU, in kB/s, through the OpenSSL that the
# client, sshd and the bridge (statically) all use: a cost no server avoids.
gcm=$(openssl speed -evp aes-128-gcm -bytes 32768 -seconds 2 2>/dev/null |
      awk '/^AES-128-GCM/ {sub(/k$/, "", $2); print $2}')
# Per direction: medians of each column over the rounds, and the ratios of
# the rounds' pairs.
python3 - "$(nproc)" "${runs[download.bridge]}" "${runs[download.sshd]}" \
  "${runs[upload.bridge]}" "${runs[upload.sshd]}" "${gcm:-0}" <<'PY'
import statistics, sys
cpus = int(sys.argv[1])
gcm = float(sys.argv[6]) * 1000  # bytes/s; 0 without the openssl tool
def rows(arg):
    return [list(map(float, r.split())) for r in arg.split(";") if r.strip()]
def med(rs, i):
    return statistics.median(r[i] for r in rs)
for name, b, s in (("download", rows(sys.argv[2]), rows(sys.argv[3])),
                   ("upload", rows(sys.argv[4]), rows(sys.argv[5]))):
    ratios = [x[0] / y[0] for x, y in zip(b, s)]
    print(f"1 GiB {name}, aes128-gcm, median of {len(b)}:".ljust(44) +
          f"bridge {med(b, 0):.0f} MB/s   sshd {med(s, 0):.0f} MB/s   "
          f"ratio {statistics.median(ratios):.2f}x (higher is better; rounds: "
          + ", ".join(f"{r:.2f}" for r in ratios) + ")")
    print(f"   the ssh client's CPU meanwhile: {med(b, 1):.0f} % with the bridge, "
          f"{med(s, 1):.0f} % with sshd")
    print(f"   CPU seconds, the whole machine: {med(b, 2):.2f} with the bridge "
          f"(the bridge's own {med(b, 3):.2f}), {med(s, 2):.2f} with sshd")
    if name != "upload":
        continue
    # What is not the bridge's (head, the ssh client, cat, loopback TCP) is
    # the same work with either server ("the rest"). Spread perfectly over
    # every CPU it takes rest / CPUs seconds, and the ssh client is one
    # thread that needs its own CPU seconds in any case: the longer of the
    # two is the time of a server costing nothing. The machine's CPU seconds
    # of a run at 1.5x sshd, less the rest, are what the server may spend for
    # that ratio (sshd spends about its run's machine CPU less the rest).
    rest = med(b, 2) - med(b, 3)
    client = med(b, 1) / 100 * 1024 / med(b, 0)
    best = 1024 / max(rest / cpus, client)
    print(f"   a server costing nothing: at best {best:.0f} MB/s, {best / med(s, 0):.2f}x sshd "
          f"(the rest {rest:.2f} CPU s on {cpus} CPUs; the ssh client alone {client:.2f} s)")
    budget = cpus * 1024 / (1.5 * med(s, 0)) - rest
    print(f"   server CPU seconds per GiB for 1.5x sshd, at most: {budget:.2f} "
          f"(the bridge spent {med(b, 3):.2f}; sshd about {med(s, 2) - rest:.2f})")
    if gcm > 0:
        print(f"   of which decryption alone takes {2**30 / gcm:.2f} (AES-128-GCM at "
              f"{gcm / 1e9:.1f} GB/s, openssl speed with 32 KiB blocks)")
PY
