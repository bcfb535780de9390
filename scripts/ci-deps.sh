#!/bin/sh
# Tools the unit tests use, installed only when missing (idempotent):
#   jq              evaluates the example policy (cmd/zplan/testdata/policy/max_destroy.jq)
#                   against `zplan show -json` (else that part of TestShowFormatsAndPolicy is skipped)
#   man (man-db)    renders zplan-plan(1) and fails on troff warnings (internal/gendocs)
#   dpkg-deb, gzip  build and inspect the .deb (packaging; dpkg and gzip are always on Debian)
#   systemd-analyze verifies the packaged units (packaging; systemd)
#   tmux            the real terminal views' TestTerminalProgressInTmux draws apply's bars in
#   promtool        (prometheus) checks and unit-tests examples/prometheus/zplan.rules.yml
#   dot             (graphviz) renders zplan graph -format dot (render/graph_test.go)
set -eu
need=""
command -v jq >/dev/null 2>&1 || need="$need jq"
command -v man >/dev/null 2>&1 || need="$need man-db"
command -v dpkg-deb >/dev/null 2>&1 || need="$need dpkg"
command -v gzip >/dev/null 2>&1 || need="$need gzip"
command -v systemd-analyze >/dev/null 2>&1 || need="$need systemd"
command -v tmux >/dev/null 2>&1 || need="$need tmux"
command -v promtool >/dev/null 2>&1 || need="$need prometheus"
command -v dot >/dev/null 2>&1 || need="$need graphviz"
if [ -n "$need" ]; then
	apt-get update -qq
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need
fi
