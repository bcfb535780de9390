#!/bin/sh
# Tools the tests use, installed only when missing (safe to run again):
# - jq evaluates the example policy (cmd/zplan/testdata/policy/max_destroy.jq)
#   against `zplan show -json`; without it that part of
#   TestShowFormatsAndPolicy is skipped.
# - promtool (Debian's prometheus package) checks and unit-tests
#   examples/prometheus/zplan.rules.yml (render/rules_test.go).
# - dot (graphviz) renders zplan graph -format dot (render/graph_test.go).
set -eu
missing=""
command -v jq >/dev/null 2>&1 || missing="$missing jq"
command -v promtool >/dev/null 2>&1 || missing="$missing prometheus"
command -v dot >/dev/null 2>&1 || missing="$missing graphviz"
if [ -n "$missing" ]; then
	apt-get update -qq
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi
