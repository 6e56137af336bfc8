#!/usr/bin/env bash
# The built-in demo, one command on a fresh Debian 12 machine:
#   installs what is missing, builds, makes the demo dataset and model (once: later runs reuse
#   them), runs the orchestrator on every GPU (or on CPU workers when there is none), and
#   scores the verdicts against the labels it broke on purpose.
# DEMO_SCENES=N changes the dataset size (default 2000; a new size makes a new dataset).
set -euo pipefail
cd "$(dirname "$0")/.."

scenes=${DEMO_SCENES:-2000}
bin=build/bin
data=demo/data            # configs/demo.yaml reads the dataset, model and output from demo/
model=demo/models/demo_classifier.pt
run=demo/run

step() { printf '\n== %s\n' "$*"; }
now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

step "Packages and build (tools/setup.sh, cmake)"
t=$(now)
tools/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target orchestrator image_worker make_demo_dataset train_demo_model score_verdicts
echo "build: $(took "$t") s"

step "Dataset: $scenes scenes of Fashion-MNIST test-split garments, 10 % of labels swapped ($data)"
if [ -f "$data/truth.jsonl" ] && [ "$(cat "$data/.demo_scenes" 2>/dev/null)" = "$scenes" ]; then
  echo "reusing $data"
else
  t=$(now)
  "$bin/make_demo_dataset" --out "$data" --scenes "$scenes" --noise 0.10 --seed 7 --force
  echo "$scenes" >"$data/.demo_scenes"
  echo "dataset: $(took "$t") s"
fi

step "Model: a small CNN crop classifier trained on the Fashion-MNIST train split ($model)"
if [ -f "$model" ]; then
  echo "reusing $model"
else
  t=$(now)
  mkdir -p "$(dirname "$model")"
  "$bin/train_demo_model" --out "$model" --seed 1
  echo "training: $(took "$t") s"
fi

step "Verification"
devices=()
gpu_list=$("$bin/orchestrator" --list-gpus)
if grep -q '^index' <<<"$gpu_list"; then
  echo "GPUs found: one worker per GPU"
else
  workers=$(nproc)
  echo "no GPU found: $workers CPU worker process(es)"
  devices=(--gpus cpu --cpu-workers "$workers")
fi
rm -rf "$run"   # the demo's own results from an earlier demo run
mkdir -p "$run"
cmd=("$bin/orchestrator" --config configs/demo.yaml --work-dir "$run" "${devices[@]}")
echo "+ ${cmd[*]}"
t=$(now)
status=0
"${cmd[@]}" || status=$?
seconds=$(took "$t")
echo "orchestrator: exit $status in $seconds s"

step "Quality of the verdicts (against the labels the dataset maker changed)"
"$bin/score_verdicts" --report "$run/output/verification_report.json" --truth "$data/truth.jsonl" --seconds "$seconds"
echo
echo "Results: $run/output (correct/ mislabeled/ uncertain/ debug_images/), logs: $run/gpuN.log"
exit "$status"
