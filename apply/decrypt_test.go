package apply_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/zplan/zplan/zfs/zfsfake"
)

// A plan edited to drop -w from the send of an encrypted source (raw =
// "auto" lets validation accept both flag forms, because only the host
// knows the encryption) is refused at apply: nothing is sent decrypted.
func TestApplyRefusesDecryptedSendOfEncryptedSource(t *testing.T) {
	e := newEnv(t)
	e.src.Create("tank/data/secret", zfsfake.Opts{Encrypted: true})
	e.src.Write("tank/data/secret", 1<<20)
	p := e.plan()
	var edited bool
	for _, a := range p.Actions {
		if a.Send != nil && a.Send.SourceDataset == "tank/data/secret" {
			if !slices.Contains(a.Send.Flags, "-w") || a.Send.Decrypt {
				t.Fatalf("the planner must send an encrypted source raw: %+v", a.Send)
			}
			a.Send.Flags = slices.DeleteFunc(a.Send.Flags, func(f string) bool { return f == "-w" })
			edited = true
		}
	}
	if !edited {
		t.Fatal("no send of the encrypted dataset planned")
	}
	res, _ := e.apply(p)
	if res.Failed == 0 {
		t.Fatalf("apply of the edited plan: %+v", res)
	}
	for _, argv := range e.src.Commands() {
		if cmd := strings.Join(argv, " "); strings.HasPrefix(cmd, "zfs send") && strings.Contains(cmd, "secret") {
			t.Errorf("sent the encrypted dataset: %s", cmd)
		}
	}
	if e.dst.Exists("backup/src/data/secret") {
		t.Error("the encrypted dataset arrived decrypted")
	}
}
