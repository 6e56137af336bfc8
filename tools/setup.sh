#!/usr/bin/env bash
# Installs the Debian 12 packages this project builds against, only those missing.
# Idempotent and quick when everything is present. Needs root (or sudo) to install.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libboost-dev libboost-filesystem-dev   # Debian's default Boost (1.74): Process v1, Asio
  libyaml-cpp-dev libfmt-dev nlohmann-json3-dev libcli11-dev libspdlog-dev
  libzip-dev                             # the orchestrator reads class names from TorchScript archives
  catch2
  libtorch-dev libopencv-dev             # workers only (the orchestrator links neither)
  libicu-dev                             # the document worker's WordPiece tokenizer: NFC/NFD, case, categories
  dataset-fashion-mnist zlib1g-dev       # the built-in demo's images (gzip'd idx files)
  slurmctld slurmd slurm-client munge    # tools/slurm_local.sh: a real Slurm on localhost (tests labelled slurm)
  chromium                               # the review page's tests (label browser), headless from file://
)

missing=()
for p in "${packages[@]}"; do
  [[ "$p" == \#* ]] && continue
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo_cmd=(sudo); else
    echo "setup: error: missing packages (${missing[*]}) and not root; install them as root" >&2
    exit 2
  fi
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
