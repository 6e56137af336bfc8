#!/usr/bin/env bash
# Fetches Debian's package lists with English descriptions (the text demo's corpus) with apt's
# own machinery into a private folder, leaving the system's apt state alone:
#   DIR/lists/*_Packages, DIR/lists/*_i18n_Translation-en   (uncompressed, ~85 MB)
# Once fetched, later runs reuse them (DIR/.fetched) and need no network.
#
#   tools/fetch_debian_descriptions.sh demo/docs/apt
#
# DEMO_DOCS_MIRROR (default http://deb.debian.org/debian), DEMO_DOCS_SUITE (bookworm) and
# DEMO_DOCS_COMPONENTS (main) choose what is fetched. Needs root (apt-get update).
set -euo pipefail

dir=${1:?usage: fetch_debian_descriptions.sh DIR}
mirror=${DEMO_DOCS_MIRROR:-http://deb.debian.org/debian}
suite=${DEMO_DOCS_SUITE:-bookworm}
components=${DEMO_DOCS_COMPONENTS:-main}

if [ -f "$dir/.fetched" ] && compgen -G "$dir/lists/*_Packages" >/dev/null &&
   compgen -G "$dir/lists/*_i18n_Translation-en" >/dev/null; then
  echo "reusing $dir/lists"
  exit 0
fi

# apt needs the partial/ folders; a sources list of our own keeps the system's extra
# repositories (and their network) out, and an empty parts folder keeps sources.list.d out.
mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/sources.list.d"
dir=$(cd "$dir" && pwd)
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite $components" >"$dir/sources.list"

apt_options=(
  -o Acquire::Languages=en                # Translation-en only
  -o Acquire::GzipIndexes=false           # keep the lists uncompressed for the dataset maker
  -o APT::Get::List-Cleanup=false
  -o Dir::State::Lists="$dir/lists"
  -o Dir::Cache="$dir/cache"
  -o Dir::Etc::SourceList="$dir/sources.list"
  -o Dir::Etc::SourceParts="$dir/sources.list.d"
)
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo_cmd=(sudo); else
    echo "fetch_debian_descriptions: error: apt-get update needs root (or sudo)" >&2
    exit 2
  fi
fi
"${sudo_cmd[@]}" apt-get update -qq "${apt_options[@]}"
if ! compgen -G "$dir/lists/*_Packages" >/dev/null || ! compgen -G "$dir/lists/*_i18n_Translation-en" >/dev/null; then
  echo "fetch_debian_descriptions: error: apt-get update wrote no Packages or Translation-en list to $dir/lists" >&2
  exit 1
fi
touch "$dir/.fetched"
du -sh "$dir/lists" | awk '{ print "fetched " $1 " of package lists into " $2 }'
