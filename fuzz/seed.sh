#!/usr/bin/env bash
# Adds the repository's own files to the fuzz corpora: runbooks and fixtures for the runbook
# parser, scenarios for the scenario parser, recorded timelines for the timeline reader, and
# the one-line `when:`/`expect:`/`loop:` expressions of the runbooks for the expression target
# (a 0 byte first: expression; 1: template). Run from anywhere; files are named by content.
set -euo pipefail
cd "$(dirname "$0")/.."

add() { # target file
    local name
    name=seed-$(sha1sum "$2" | cut -c1-16)
    mkdir -p "fuzz/corpus/$1"
    cp "$2" "fuzz/corpus/$1/$name"
}

for f in runbooks/*.yaml tests/fixtures/*.yaml; do add runbook_file "$f"; done
for f in scenarios/*.yaml; do add scenario_file "$f"; done
for f in tests/fixtures/report/*.jsonl; do add timeline_lines "$f"; done

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
grep -hoE '^\s*(- )?(when|expect|loop): .+$' runbooks/*.yaml tests/fixtures/*.yaml |
    sed -E 's/^\s*(- )?(when|expect|loop): //; s/^"(.*)"$/\1/' | sort -u |
    while IFS= read -r expression; do
        { printf '\0'; printf '%s' "$expression"; } >"$tmp"
        add expression "$tmp"
    done
grep -hoE '"[^"]*\{\{[^"]*"' runbooks/*.yaml | tr -d '"' | sort -u |
    while IFS= read -r template; do
        { printf '\1'; printf '%s' "$template"; } >"$tmp"
        add expression "$tmp"
    done
for t in fuzz/corpus/*; do echo "$t: $(ls "$t" | wc -l) files"; done
