#!/usr/bin/env bash
# Installs what the zplan lab needs on a Debian bookworm machine and builds
# the guest image unless it is cached. Idempotent; runs as root without a
# terminal (CI). Usage: bash lab/ci-setup.sh   (from anywhere in the repo)
set -euo pipefail

say() { echo "lab/ci-setup: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (apt-get and the image build need it)"
cd "$(dirname "$0")/.."

pkgs=(qemu-system-x86 qemu-utils debootstrap e2fsprogs openssh-client ca-certificates util-linux)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
else
	say "packages present"
fi
command -v go >/dev/null || die "go not found in PATH"

start=$(date +%s)
go run ./lab/cmd/zplan-lab image
say "image ready ($(($(date +%s) - start)) s)"
