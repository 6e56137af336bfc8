#!/usr/bin/env bash
# A real Slurm on localhost (slurmctld + slurmd, munge, 4 fake GPUs), for the tests labelled
# `slurm` and for trying `orchestrator --launcher slurm` on one machine.
#
#   tools/slurm_local.sh start    installs what is missing, starts the cluster, waits until idle
#   tools/slurm_local.sh stop     shuts it down (and the munged it started)
#   tools/slurm_local.sh status   "idle", "mixed", ... or "not running" (exit 1)
#   tools/slurm_local.sh env      prints SLURM_CONF=<path>: eval "$(tools/slurm_local.sh env)"
#
# For ctest (label slurm): `start --for-tests` exits 77 (skipped) when not root, and marks a
# cluster it started; `stop --for-tests` stops only such a cluster, so a cluster you started
# yourself survives the tests.
#
# LV_SLURM_DIR picks the cluster's folder (default /tmp/lv-slurm-local): config, state, spool,
# logs. Slurm's ports are 6817/6818, so one such cluster runs per machine. Needs root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${LV_SLURM_DIR:-/tmp/lv-slurm-local}
conf=$dir/slurm.conf
export SLURM_CONF=$conf

say() { echo "slurm_local: $*" >&2; }
die() { say "error: $*"; exit 1; }

# The node's state, or "" when the controller does not answer.
node_state() { timeout 5 sinfo -h -n localhost -o %T 2>/dev/null | head -n1 || true; }

# Waits (up to $1 s) until `$2` succeeds; polls every 0.1 s.
wait_for() {
  local deadline=$((SECONDS + $1))
  until eval "$2"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}

munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

start() {
  if [ "$(id -u)" -ne 0 ]; then
    if [ "$for_tests" = 1 ]; then say "not root: the Slurm tests are skipped"; exit 77; fi
    die "needs root (slurmd runs jobs as their user; munged runs as munge)"
  fi
  for tool in slurmctld slurmd sbatch munged; do
    command -v "$tool" >/dev/null 2>&1 || "$here/setup.sh"
  done
  command -v slurmctld >/dev/null 2>&1 || die "slurmctld is missing after tools/setup.sh"

  case "$(node_state)" in
    idle*|mixed*|alloc*) say "already running ($conf)"; return 0 ;;
  esac

  mkdir -p "$dir"/{state,spool,run,log,fakegpu}
  chmod 0700 "$dir"
  for i in 0 1 2 3; do ln -sfn /dev/null "$dir/fakegpu/nvidia$i"; done
  sed "s|@DIR@|$dir|g" "$here/slurm-local/slurm.conf.in" >"$conf"
  sed "s|@DIR@|$dir|g" "$here/slurm-local/gres.conf.in" >"$dir/gres.conf"

  if ! munge_ok; then
    # Never as root: munged refuses, or leaves root-owned files that break the next start.
    install -d -o munge -g munge -m 0755 /run/munge
    runuser -u munge -- /usr/sbin/munged
    touch "$dir/run/started-munged"
    wait_for 10 munge_ok || die "munged did not start (see /var/log/munge/munged.log)"
  fi

  # -c: a clean start (job ids from 1, no jobs of an earlier cluster).
  setsid slurmctld -D -c -f "$conf" >"$dir/log/slurmctld.out" 2>&1 </dev/null &
  setsid slurmd -D -N localhost -f "$conf" >"$dir/log/slurmd.out" 2>&1 </dev/null &
  local state=""
  local deadline=$((SECONDS + 30))
  while [ $SECONDS -lt $deadline ]; do
    state=$(node_state)
    case "$state" in
      idle*)
        [ "$for_tests" = 1 ] && touch "$dir/run/started-for-tests"
        say "running: $conf (4 fake GPUs, partition debug)"
        return 0 ;;
      inval*|drain*|down*)
        # A node that came up "down" with ReturnToService=2 turns idle by itself; inval and
        # drain do not.
        [[ "$state" == down* ]] || { tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true; die "node state $state"; } ;;
    esac
    sleep 0.1
  done
  tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
  die "not idle after 30 s (node state '${state:-no answer}'); logs in $dir/log"
}

stop() {
  if [ "$for_tests" = 1 ] && [ ! -f "$dir/run/started-for-tests" ]; then
    say "left running: the tests did not start it"
    return 0
  fi
  rm -f "$dir/run/started-for-tests"
  if [ -f "$conf" ]; then timeout 10 scontrol shutdown >/dev/null 2>&1 || true; fi
  local pid
  for f in "$dir/run/slurmctld.pid" "$dir/run/slurmd.pid"; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    wait_for 10 "! kill -0 $pid 2>/dev/null" || kill -9 "$pid" 2>/dev/null || true
    rm -f "$f"
  done
  if [ -f "$dir/run/started-munged" ]; then
    pkill -u munge -x munged 2>/dev/null || true
    rm -f "$dir/run/started-munged"
  fi
  say "stopped"
}

status() {
  local state
  state=$(node_state)
  if [ -z "$state" ]; then echo "not running"; return 1; fi
  echo "$state"
}

for_tests=0
[ "${2:-}" = "--for-tests" ] && for_tests=1
case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) echo "SLURM_CONF=$conf" ;;
  *) echo "usage: tools/slurm_local.sh start|stop|status|env" >&2; exit 2 ;;
esac
