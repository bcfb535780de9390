#!/bin/sh
# Tools the CI-pipeline tests use: jq evaluates the example policy
# (cmd/zplan/testdata/policy/max_destroy.jq) against `zplan show -json`;
# tmux is the real terminal views' TestTerminalProgressInTmux draws
# apply's progress bars in. Without them those tests skip that part.
# Idempotent: installs only what is missing.
set -eu
missing=""
command -v jq >/dev/null 2>&1 || missing="$missing jq"
command -v tmux >/dev/null 2>&1 || missing="$missing tmux"
if [ -n "$missing" ]; then
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq $missing
fi
