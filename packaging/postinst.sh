#!/bin/sh
# The timers are not enabled on install: edit /etc/zplan first, then
#   systemctl enable --now zplan-apply.timer zplan-drift.timer
set -e
# Not when dpkg installs into another root (dpkg --root sets DPKG_ROOT).
if [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null || true
fi
