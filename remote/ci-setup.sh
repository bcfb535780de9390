#!/bin/sh
# Installs what the remote package's tests need: an OpenSSH server the
# tests start on a loopback port (never as a system service) and the
# OpenSSH client the benchmark compares against. Idempotent.
set -eu

need=""
[ -x /usr/sbin/sshd ] || need="$need openssh-server"
command -v ssh >/dev/null 2>&1 || need="$need openssh-client"
command -v pgrep >/dev/null 2>&1 || need="$need procps"

if [ -n "$need" ]; then
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
	export DEBIAN_FRONTEND=noninteractive
	# policy-rc.d keeps the package from starting a system sshd on port 22.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
		$SUDO chmod +x /usr/sbin/policy-rc.d
		trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	$SUDO apt-get update -qq
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -qq --no-install-recommends $need >/dev/null
fi

# sshd run as root wants its privilege separation directory.
if [ "$(id -u)" -eq 0 ]; then
	mkdir -p /run/sshd
fi
/usr/sbin/sshd -V 2>&1 | head -n 1 || true
