package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zplan/zplan/lab"
	"github.com/zplan/zplan/zfs"
)

// A compromised target prints a resume token of its own making: one that
// names the edge's very snapshots but drops rawok, so that resuming it
// would stream plaintext of an encrypted dataset. zplan decodes the
// token itself and refuses it; the source sends nothing.
func TestForgedResumeTokenRefused(t *testing.T) {
	t.Parallel()
	l := lab.Start(t)
	src, dst := l.NewPool(t, 128), l.NewPool(t, 128)
	sds, tds := src+"/data", dst+"/backup/data"
	l.Sh(t, "echo 'correct horse battery' | zfs create -o encryption=on -o keyformat=passphrase -o keylocation=prompt "+sds)
	writeRandom(t, l, sds, 1)
	z := newZenv(t, l, oneEdgeConfig(src, dst))
	z.mustApply()
	base := z.snapName()
	z.advance(5 * time.Minute)
	next := z.snapName()
	l.Run(t, "zfs", "snapshot", sds+"@"+next)
	guid := func(name string) uint64 {
		g, err := strconv.ParseUint(prop(t, l, name, "guid"), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	forged, err := zfs.EncodeResumeToken(zfs.ResumeToken{
		FromGUID: guid(sds + "@" + base), ToGUID: guid(sds + "@" + next), ToName: sds + "@" + next,
		Object: 1, Bytes: 4096, Compressed: true, LargeBlocks: true, // Raw: false is the lie
	})
	if err != nil {
		t.Fatal(err)
	}
	// The target's zfs as the compromised host has it: its listing shows
	// the forged token on the edge's target dataset, and asked to decode
	// a token (what zplan used to do) it claims rawok. zplan must believe
	// the token's bytes, which say not raw.
	wrapper := "/root/forge-" + dst
	script := fmt.Sprintf(`#!/bin/bash
set -o pipefail
if [ "$1" = zfs ] && [ "$2" = list ]; then
	"$@" | awk -F'\t' -v OFS='\t' -v ds='%s' -v tok='%s' '$1 == ds && NF == 14 { $12 = tok } { print }'
	exit
fi
if [ "$1" = zfs ] && [ "$2" = send ] && [ "$3" = -nv ]; then
	printf 'resume token contents:\nnvlist version: 0\n\tfromguid = %d\n\tobject = 0x1\n\toffset = 0x0\n\tbytes = 0x1000\n\ttoguid = %d\n\ttoname = %s\n\trawok = 1\n'
	exit 1
fi
exec "$@"
`, tds, forged, guid(sds+"@"+base), guid(sds+"@"+next), sds+"@"+next)
	l.Sh(t, fmt.Sprintf("printf '%%s' %s >%s && chmod +x %s", shQuote(script), wrapper, wrapper))
	cfg, err := os.ReadFile(z.cfg)
	if err != nil {
		t.Fatal(err)
	}
	withPrefix := strings.Replace(string(cfg), `host "dst" {`, `host "dst" {
  command_prefix = [`+strconv.Quote(wrapper)+`]`, 1)
	if err := os.WriteFile(z.cfg, []byte(withPrefix), 0o600); err != nil {
		t.Fatal(err)
	}

	out, code := z.plan()
	if code != 1 || !strings.Contains(out, "interrupted receive is not the stream this plan would send: token raw=false, the plan sends raw=true") {
		t.Fatalf("plan (exit %d) must refuse the forged token:\n%s", code, out)
	}
	if strings.Contains(out, "~ send "+sds) {
		t.Fatalf("plan sends on the edge with a forged token:\n%s", out)
	}
	out, _ = z.zplan("apply", "-auto-approve")
	if sent(out) {
		t.Errorf("apply sent with a forged token:\n%s", out)
	}
	if exists(t, l, tds+"@"+next) {
		t.Errorf("%s@%s arrived although the edge is blocked", tds, next)
	}
}

// shQuote quotes s for the guest's shell.
func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
