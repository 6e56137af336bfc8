#!/usr/bin/env bash
# The built-in demo, one command on a fresh Debian 12 machine:
#   installs what is missing, builds, makes the demo dataset and model (once: later runs reuse
#   them), runs the orchestrator on every GPU (or on CPU workers when there is none), and
#   scores the verdicts against the labels it broke on purpose.
#
#   tools/demo.sh              images: Fashion-MNIST garments in scenes (image_worker)
#   tools/demo.sh documents    text: Debian package descriptions by topic (doc_worker), then
#                              the same documents embedded and checked by nearest neighbours
#   tools/demo.sh detector     images with a detector (yolov8 layout) trained here: wrong
#                              class, missing, badly placed, spurious and duplicate boxes
#
# DEMO_SCENES=N changes the image dataset size (default 2000; a new size makes a new dataset).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-images}
case "$mode" in
  images|documents|detector) ;;
  *) echo "usage: tools/demo.sh [images|documents|detector]" >&2; exit 2 ;;
esac

scenes=${DEMO_SCENES:-2000}
bin=build/bin
data=demo/data            # configs/demo.yaml reads the dataset, model and output from demo/
model=demo/models/demo_classifier.pt
run=demo/run

step() { printf '\n== %s\n' "$*"; }
now() { date +%s.%N; }
took() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
per_second() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.1f", (s > 0 ? n / s : 0) }'; }

# The orchestrator's device options: every GPU, else one CPU worker per core.
pick_devices() {
  devices=()
  local gpu_list
  gpu_list=$("$bin/orchestrator" --list-gpus)
  if grep -q '^index' <<<"$gpu_list"; then
    echo "GPUs found: one worker per GPU"
  else
    local workers
    workers=$(nproc)
    echo "no GPU found: $workers CPU worker process(es)"
    devices=(--gpus cpu --cpu-workers "$workers")
  fi
}

# Runs the orchestrator on config $1 in a fresh work dir $2 (every GPU, else CPU workers);
# sets run_status (its exit code) and run_seconds.
run_orchestrator() {
  local config=$1 dir=$2 t
  pick_devices
  rm -rf "$dir"   # the demo's own results from an earlier demo run
  mkdir -p "$dir"
  local cmd=("$bin/orchestrator" --config "$config" --work-dir "$dir" "${devices[@]}")
  echo "+ ${cmd[*]}"
  t=$(now)
  run_status=0
  "${cmd[@]}" || run_status=$?
  run_seconds=$(took "$t")
  echo "orchestrator: exit $run_status in $run_seconds s"
}

# Installs what is missing and builds the given targets (Release).
build_targets() {
  local t
  step "Packages and build (tools/setup.sh, cmake)"
  t=$(now)
  tools/setup.sh
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build -j"$(nproc)" --target "$@"
  echo "build: $(took "$t") s"
}

# The text demo: fetch (cached), dataset (cached), model (cached), verify, score, embed, check.
documents_demo() {
  local docs=demo/docs   # configs/demo_documents*.yaml read the dataset, models and outputs from demo/
  local classifier=demo/models/doc_classifier.pt encoder=demo/models/doc_encoder.pt
  local run=demo/docs_run embed_run=demo/docs_run_embed
  local dataset_params="seed 7 noise 0.10"
  local t status=0 embed_status=0 seconds embed_seconds

  build_targets orchestrator doc_worker make_doc_dataset train_doc_model score_doc_verdicts

  step "Corpus: Debian package descriptions, fetched by apt-get update into $docs/apt (once)"
  t=$(now)
  tools/fetch_debian_descriptions.sh "$docs/apt"
  echo "corpus: $(took "$t") s"

  step "Dataset: twelve topics folded from Debian sections, split by source package, 10 % of test labels swapped ($docs)"
  if [ -f "$docs/truth.jsonl" ] && [ "$(cat "$docs/.demo_params" 2>/dev/null)" = "$dataset_params" ]; then
    echo "reusing $docs"
  else
    t=$(now)
    "$bin/make_doc_dataset" --lists "$docs/apt/lists" --out "$docs" --seed 7 --noise 0.10 --force
    echo "$dataset_params" >"$docs/.demo_params"
    echo "dataset: $(took "$t") s"
  fi

  step "Model: a bag of hashed words and bigrams, trained on train.jsonl ($classifier, $encoder)"
  if [ -f "$classifier" ] && [ -f "$encoder" ] && [ "$classifier" -nt "$docs/truth.jsonl" ] && [ "$encoder" -nt "$docs/truth.jsonl" ]; then
    echo "reusing $classifier and $encoder"
  else
    t=$(now)
    "$bin/train_doc_model" --data "$docs" --out "$classifier" --encoder-out "$encoder" --seed 1
    echo "training: $(took "$t") s"
  fi

  step "Verification of the test documents' topics"
  run_orchestrator configs/demo_documents.yaml "$run"
  status=$run_status seconds=$run_seconds

  step "Quality of the verdicts (against the labels the dataset maker swapped)"
  "$bin/score_doc_verdicts" --report "$run/output/verification_report.json" --truth "$docs/truth.jsonl" --seconds "$seconds" ||
    status=$((status ? status : 1))

  step "Embeddings of the same documents (encoder), nearest neighbours against the true topics"
  run_orchestrator configs/demo_documents_embed.yaml "$embed_run"
  embed_status=$run_status embed_seconds=$run_seconds
  echo "$(per_second "$(wc -l <"$docs/test.jsonl")" "$embed_seconds") docs/s"
  "$bin/score_doc_verdicts" --embeddings "$embed_run/output/embeddings.npy" --ids "$embed_run/output/embeddings_ids.txt" \
    --truth "$docs/truth.jsonl" || embed_status=$((embed_status ? embed_status : 1))
  echo
  echo "Results: $run/output/verification_report.json, $embed_run/output/embeddings.npy; logs: $run/gpuN.log, $embed_run/gpuN.log"
  return $((status ? status : embed_status))
}

# The detector demo: dataset with every kind of label noise (cached), detector (cached),
# verify, score per kind of noise and the detector's mAP.
detector_demo() {
  local data=demo/detector_data   # configs/demo_detector.yaml reads the dataset, model and output from demo/
  local model=demo/models/demo_detector.pt run=demo/detector_run
  local noise=(--noise-class 0.05 --noise-missing 0.05 --noise-location 0.05 --noise-spurious 0.05 --noise-duplicate 0.05)
  local dataset_params="scenes $scenes seed 7 ${noise[*]}"
  local model_params="seed 1"
  local t status=0 seconds

  build_targets orchestrator image_worker make_demo_dataset train_demo_detector score_detector_verdicts

  step "Dataset: $scenes scenes of Fashion-MNIST test-split garments, 5 % of labels broken in each of five ways ($data)"
  if [ -f "$data/truth.jsonl" ] && [ "$(cat "$data/.demo_params" 2>/dev/null)" = "$dataset_params" ]; then
    echo "reusing $data"
  else
    t=$(now)
    "$bin/make_demo_dataset" --out "$data" --scenes "$scenes" --seed 7 "${noise[@]}" --force
    echo "$dataset_params" >"$data/.demo_params"
    echo "dataset: $(took "$t") s"
  fi

  step "Model: a small anchor-free detector trained on scenes of Fashion-MNIST train-split garments ($model)"
  if [ -f "$model" ] && [ "$(cat "$model.params" 2>/dev/null)" = "$model_params" ]; then
    echo "reusing $model"
  else
    t=$(now)
    mkdir -p "$(dirname "$model")"
    "$bin/train_demo_detector" --out "$model" --seed 1 | tee "$model.log"
    echo "$model_params" >"$model.params"
    echo "training: $(took "$t") s"
  fi

  step "Verification"
  run_orchestrator configs/demo_detector.yaml "$run"
  status=$run_status seconds=$run_seconds

  step "Quality of the verdicts per kind of label noise, and the detector's own mAP"
  "$bin/score_detector_verdicts" --report "$run/output/verification_report.json" --truth "$data/truth.jsonl" \
    --seconds "$seconds" || status=$((status ? status : 1))
  # The model alone, as measured after training (one process, one thread), for comparison.
  grep -h "backend alone" "$model.log" 2>/dev/null | sed 's/^train_demo_detector: /for comparison, after training: /' || true
  echo
  echo "Results: $run/output (correct/ mislabeled/ uncertain/ debug_images/), logs: $run/gpuN.log"
  return "$status"
}

if [ "$mode" = detector ]; then
  status=0
  detector_demo || status=$?
  exit "$status"
fi

if [ "$mode" = documents ]; then
  status=0
  documents_demo || status=$?
  exit "$status"
fi

# The same model and thresholds on scenes of another make (DEMO_SHIFTED=0 skips it): each
# variant made once (seed 21, 15 % of labels swapped), verified with configs/demo.yaml's
# settings (verification.policy adaptive: its report also holds the fixed rule's verdicts),
# then both policies scored side by side, the worst variant beside the demo's own figure.
shifted_demo() {
  [ "${DEMO_SHIFTED:-1}" = 0 ] && return 0
  local shifted=demo/shifted scored=() name options config t
  step "Shifted scenes: other backgrounds, garment sizes and box fits, both policies ($shifted)"
  scored=(--dataset "demo's own scenes" "$run/output/verification_report.json" "$data/truth.jsonl")
  while IFS='|' read -r name options; do
    local dir=$shifted/${name// /_}
    if [ -f "$dir/data/truth.jsonl" ] && [ "$(cat "$dir/.params" 2>/dev/null)" = "$options" ]; then
      echo "reusing $dir/data"
    else
      # $options is this script's own table below, split into words on purpose.
      # shellcheck disable=SC2086
      "$bin/make_demo_dataset" --out "$dir/data" --scenes 600 --seed 21 --noise 0.15 $options --force >/dev/null
      echo "$options" >"$dir/.params"
    fi
    # configs/demo.yaml with this variant's dataset and output (absolute paths).
    config=$dir/config.yaml
    sed -e "s|^  images: ../demo/data .*|  images: $PWD/$dir/data|" \
        -e "s|^  classes: ../demo/data/classes.txt|  classes: $PWD/$dir/data/classes.txt|" \
        -e "s|^  dir: ../demo/run/output .*|  dir: $PWD/$dir/run/output|" \
        -e "s|^  path: ../demo/models/|  path: $PWD/demo/models/|" \
        -e "s|^  debug_images: issues|  debug_images: none|" configs/demo.yaml >"$config"
    if [ "$(grep -c "$PWD/$dir\|$PWD/demo/models" "$config")" != 4 ]; then
      echo "demo.sh: configs/demo.yaml changed shape: cannot point it at $dir" >&2
      return 1
    fi
    t=$(now)
    rm -rf "$dir/run"
    mkdir -p "$dir/run"
    "$bin/orchestrator" --config "$config" --work-dir "$dir/run" "${devices[@]}" >"$dir/run/orchestrator.log" 2>&1 ||
      { tail -20 "$dir/run/orchestrator.log"; return 1; }
    echo "$name: verified in $(took "$t") s"
    scored+=(--dataset "$name" "$dir/run/output/verification_report.json" "$dir/data/truth.jsonl")
  done <<'VARIANTS'
busy background|--background busy
small garments (16-48 px)|--min-side 16 --max-side 48
tight boxes|--box-fit tight
loose boxes|--box-fit loose
VARIANTS
  echo
  "$bin/score_shifted" "${scored[@]}"
}

build_targets orchestrator image_worker make_demo_dataset train_demo_model score_verdicts score_shifted

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
run_orchestrator configs/demo.yaml "$run"
status=$run_status seconds=$run_seconds

step "Quality of the verdicts (against the labels the dataset maker changed)"
"$bin/score_verdicts" --report "$run/output/verification_report.json" --truth "$data/truth.jsonl" --seconds "$seconds"

shifted_demo || status=$?
echo
echo "Results: $run/output (correct/ mislabeled/ uncertain/ debug_images/), logs: $run/gpuN.log"
exit "$status"
