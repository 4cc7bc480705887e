#!/usr/bin/env bash
# Installs the C libraries Relapse links (libhdf5, oneDNN, libzip) from Debian's packages, if missing.
set -euo pipefail
packages=(libhdf5-dev libdnnl-dev libzip-dev pkg-config)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
