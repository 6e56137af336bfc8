#!/usr/bin/env bash
# The local Slurm of tools/slurm_local.sh does what the Slurm launcher relies on: a job array
# with one fake GPU per task gets CUDA_VISIBLE_DEVICES per task, appends to --output=gpu%a.log,
# and scontrol reports each task's state and ExitCode=exit:signal; scancel ends a running task.
set -euo pipefail
src=$1
eval "$("$src/tools/slurm_local.sh" env)"
export SLURM_CONF
work=$(mktemp -d /tmp/lv_slurm_test.XXXXXX)
trap 'scancel --quiet --name="$(basename "$work")" 2>/dev/null || true; rm -rf "$work"' EXIT
fail() { echo "FAILED: $*" >&2; exit 1; }

# Polls (deadline $1 s) until every task of job $2 has ended; prints scontrol's lines.
wait_finished() {
  local deadline=$((SECONDS + $1)) out
  while :; do
    out=$(scontrol -o show job "$2")
    if ! grep -qE "JobState=(PENDING|RUNNING|CONFIGURING|COMPLETING)" <<<"$out"; then echo "$out"; return 0; fi
    [ $SECONDS -lt $deadline ] || { echo "$out" >&2; fail "job $2 not finished after $1 s"; }
    sleep 0.2
  done
}

cat >"$work/task.sh" <<'SCRIPT'
#!/bin/bash
echo "task $SLURM_ARRAY_TASK_ID CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES"
[ "$SLURM_ARRAY_TASK_ID" = 2 ] && exit 3
[ "$SLURM_ARRAY_TASK_ID" = 3 ] && exec sleep 60
exit 0
SCRIPT
chmod +x "$work/task.sh"
echo "earlier attempt" >"$work/gpu1.log"
job=$(sbatch --parsable --array=0-3 --gres=gpu:1 --job-name="$(basename "$work")" --output="$work/gpu%a.log" \
  --open-mode=append --chdir="$work" "$work/task.sh")
[[ "$job" =~ ^[0-9]+$ ]] || fail "sbatch printed '$job'"

# Task 3 runs until cancelled.
deadline=$((SECONDS + 30))
until scontrol -o show job "$job" | grep "ArrayTaskId=3 " | grep -q "JobState=RUNNING"; do
  [ $SECONDS -lt $deadline ] || fail "task 3 never ran"
  sleep 0.2
done
scancel "${job}_3"
out=$(wait_finished 30 "$job")

state() { grep "ArrayTaskId=$1 " <<<"$out" | grep -o "JobState=[A-Z_]* .*ExitCode=[0-9]*:[0-9]*" | sed 's/ .*ExitCode=/ /'; }
[ "$(state 0)" = "JobState=COMPLETED 0:0" ] || fail "task 0: $(state 0)"
[ "$(state 2)" = "JobState=FAILED 3:0" ] || fail "task 2: $(state 2)"
[[ "$(state 3)" == "JobState=CANCELLED "* ]] || fail "task 3: $(state 3)"

# One GPU each, all different; the earlier log kept and appended to.
devices=$(cat "$work"/gpu[0-3].log | grep -o "CUDA_VISIBLE_DEVICES=[0-9]*" | sort -u | wc -l)
[ "$devices" = 4 ] || fail "expected 4 distinct CUDA_VISIBLE_DEVICES: $(cat "$work"/gpu[0-3].log)"
[ "$(head -n1 "$work/gpu1.log")" = "earlier attempt" ] || fail "gpu1.log was truncated"
echo "local Slurm: array of 4 with fake GPUs, exit codes and cancel as expected"
