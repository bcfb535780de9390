#!/bin/sh
# Tools the CI-pipeline tests use: jq evaluates the example policy
# (cmd/zplan/testdata/policy/max_destroy.jq) against `zplan show -json`.
# Without it that part of TestShowFormatsAndPolicy is skipped.
set -eu
if ! command -v jq >/dev/null 2>&1; then
	apt-get update -qq
	apt-get install -y -qq jq
fi
