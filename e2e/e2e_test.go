// Package e2e runs the zplan binary, as users do, against real OpenZFS in
// the lab VM over real SSH.
package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zplan/zplan/lab"
)

func TestMain(m *testing.M) { lab.Main(m) }

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// zplanBinary builds cmd/zplan once per test run.
func zplanBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "zplan-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "zplan")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/zplan").CombinedOutput()
		if err != nil {
			buildErr = err
			binPath = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("building zplan: %v\n%s", buildErr, binPath)
	}
	return binPath
}

// demo runs zplan with the example demo configuration pointed at the lab.
type demo struct {
	t        *testing.T
	l        *lab.Lab
	src, dst string
	now      string
}

func (d *demo) zplan(args ...string) (string, int) {
	d.t.Helper()
	full := append(args, "-config", "../examples/demo.zplan.hcl", "-no-color", "-now", d.now,
		"-var", "lab_port="+strconv.Itoa(d.l.Port),
		"-var", "lab_identity="+d.l.IdentityFile,
		"-var", "lab_known_hosts="+d.l.KnownHostsFile,
		"-var", "src_pool="+d.src, "-var", "dst_pool="+d.dst)
	cmd := exec.Command(zplanBinary(d.t), full...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		d.t.Fatalf("zplan %s: %v", strings.Join(args, " "), err)
	}
	return string(out), code
}

func TestDemoAppliesThenNoChanges(t *testing.T) {
	l := lab.Start(t)
	d := &demo{t: t, l: l, src: l.NewPool(t, 128), dst: l.NewPool(t, 128),
		now: time.Now().UTC().Truncate(time.Second).Format(time.RFC3339)}
	l.Sh(t, "zfs create -p "+d.src+"/data/home && zfs create "+d.src+"/data/scratch && "+
		"dd if=/dev/urandom of=/"+d.src+"/data/home/file bs=1M count=2 status=none")

	out, code := d.zplan("plan", "-detailed-exitcode")
	if code != 2 || !strings.Contains(out, "+ snapshot "+d.src+"/data/home@zplan_") ||
		!strings.Contains(out, "~ send "+d.src+"/data/home@zplan_") || strings.Contains(out, "scratch") {
		t.Fatalf("first plan (exit %d):\n%s", code, out)
	}

	out, code = d.zplan("apply", "-auto-approve")
	if code != 0 {
		t.Fatalf("apply (exit %d):\n%s", code, out)
	}
	// The target has the source's snapshot, same GUID, held; the source
	// has the cursor bookmark.
	srcSnap := strings.TrimSpace(l.Run(t, "zfs", "list", "-H", "-t", "snapshot", "-o", "name,guid", d.src+"/data/home"))
	name, guid, _ := strings.Cut(srcSnap, "\t")
	short := name[strings.Index(name, "@"):]
	tgt := d.dst + "/backup/data/home"
	if got := strings.TrimSpace(l.Run(t, "zfs", "get", "-H", "-o", "value", "guid", tgt+short)); got != guid {
		t.Fatalf("target %s guid %q, source %q", tgt+short, got, guid)
	}
	if holds := l.Run(t, "zfs", "holds", "-H", tgt+short); !strings.Contains(holds, "zplan_last_backup") {
		t.Errorf("target holds: %q", holds)
	}
	if bms := l.Run(t, "zfs", "list", "-H", "-t", "bookmark", "-o", "name", d.src+"/data/home"); !strings.Contains(bms, "#zplan_cursor_") {
		t.Errorf("source bookmarks: %q", bms)
	}
	if got := strings.TrimSpace(l.Run(t, "zfs", "get", "-H", "-o", "value", "zplan:placeholder", d.dst+"/backup")); got != d.dst+"/backup" {
		t.Errorf("placeholder property of %s/backup: %q", d.dst, got)
	}

	out, code = d.zplan("plan", "-detailed-exitcode")
	if code != 0 || !strings.Contains(out, "No changes.") {
		t.Fatalf("second plan (exit %d):\n%s", code, out)
	}
}
