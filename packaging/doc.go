// Package packaging holds the Debian package's files (nfpm.yaml, the
// systemd units, the example /etc/zplan/main.zplan.hcl, maintainer
// scripts) and its test, which builds the package with scripts/deb
// (make deb) and checks what is in it. No Go code of zplan lives here.
package packaging
