#!/usr/bin/env bash
# run-all.sh - record every lab capture, one scenario after the other.
#
# `npm run lab` runs this from the repository root. Needs root (network
# namespaces). Each scenario script cleans up after itself (EXIT trap); this
# runner stops at the first failure so a broken scenario is never hidden by
# the ones after it. Scenarios run sequentially, never in parallel: several
# depend on timing (bridge ageing, SYN queue expiry, STP timers).
#
# Usage: bash captures/lab/run-all.sh [SCENARIO-NUMBER...]   e.g. `... 01 05`
set -euo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [[ $(id -u) -ne 0 ]]; then
    echo "run-all.sh: must run as root (e.g. sudo npm run lab)" >&2
    exit 1
fi

scripts=()
if (($# == 0)); then
    scripts=("$LAB_DIR"/[0-9][0-9]-*.sh)
else
    for n in "$@"; do
        match=("$LAB_DIR/$n"-*.sh)
        [[ -e ${match[0]} ]] || { echo "run-all.sh: no scenario $n" >&2; exit 1; }
        scripts+=("${match[@]}")
    done
fi

start=$SECONDS
for s in "${scripts[@]}"; do
    echo "=== $(basename "$s")" >&2
    if ! bash "$s"; then
        echo "run-all.sh: $(basename "$s") FAILED, stopping" >&2
        exit 1
    fi
done

echo "=== all scenarios done in $((SECONDS - start)) s; captures:" >&2
ls -l "$LAB_DIR"/../*.pcap "$LAB_DIR"/../*.pcapng >&2
