#!/usr/bin/env bash
# Prints the figures of BENCHMARKS.md next to their targets, in one run, on loopback:
#   1. the http probe (samples: 20000, concurrency: 64) vs wrk -c 64 -t 2 -d 5s (and oha when
#      installed) on the same keep-alive server: req/s, p50/p95/p99, peak RSS of `runbook run`;
#   2. a loop over 500 endpoints answering after 100 ms, parallel: 100: wall time;
#   3. `runbook validate` over 200 runbooks, and `runbook --version`;
#   4. 1,000 `wait: 0s` steps with the timeline fsynced: wall time and per-step overhead;
#   5. 100 sequential `http` checks vs Chaos Toolkit's 100 `http` probes on one nginx: whole
#      process, medians of 5 taking turns (Chaos Toolkit pinned in target/chaostoolkit-venv);
#   6. `runbook serve`: 1,000 Alertmanager notifications for 100 alerts from 16 clients
#      (`storm`): notifications/s, p50/p95 notification to first step_started, runs started,
#      peak RSS; and 500 served runs awaiting approval at once (`held`): RSS, threads, CPU;
#   7. masking 1 MiB hostile bodies (in process).
# Installs wrk, hyperfine, GNU time and nginx with apt-get when they are missing (root on
# Debian), and Chaos Toolkit with pip (python3 -m venv) on first use.
# Arguments pick figures: benches/compare.sh probe loop validate timeline chaos storm held mask
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v hyperfine >/dev/null || missing+=(hyperfine)
[ -x /usr/bin/time ] || missing+=(time)
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null || missing+=(nginx)
if [ ${#missing[@]} -gt 0 ]; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        echo "installing ${missing[*]}" >&2
        # nginx's package would start nginx as a service on port 80: figure 5 starts its own.
        # A policy-rc.d that refuses every start is how Debian says so (as .ci/run does).
        # Removed right after: the `exec` below would skip an EXIT trap.
        policy_rc=/usr/sbin/policy-rc.d
        ours=""
        if [ ! -e "$policy_rc" ]; then
            printf '#!/bin/sh\nexit 101\n' >"$policy_rc" && chmod +x "$policy_rc" && ours=1
            trap 'rm -f "$policy_rc"' EXIT
        fi
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
        if [ -n "$ours" ]; then
            rm -f "$policy_rc"
            trap - EXIT
        fi
    else
        echo "missing ${missing[*]}: the figures that need them are skipped" >&2
    fi
fi

echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/MemTotal/ {printf "%.1f GiB RAM", $2/1048576}' /proc/meminfo)"
echo "kernel: $(uname -sr)"
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)'); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "tools: $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2 || true); $(hyperfine --version 2>/dev/null || true); $(oha --version 2>/dev/null || echo 'oha not installed')"

# The bench target links the release binary (CARGO_BIN_EXE_runbook, target/release/runbook).
cargo build --release --quiet
exec cargo bench --quiet --bench probe -- "$@"
