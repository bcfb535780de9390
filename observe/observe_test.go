package observe

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/zplan/zplan/remote"
	"github.com/zplan/zplan/zfs"
)

// cannedHost answers the listing, holds and token commands from a
// synthetic pool, and counts the commands it runs.
type cannedHost struct {
	mu       sync.Mutex
	datasets int
	snaps    int
	commands [][]string
}

func (h *cannedHost) Name() string { return "canned" }
func (h *cannedHost) Close() error { return nil }

// cannedToken is a real-format resume token for tank/src@s1.
var cannedToken = func() string {
	tok, err := zfs.EncodeResumeToken(zfs.ResumeToken{ToGUID: 0x10, ToName: "tank/src@s1"})
	if err != nil {
		panic(err)
	}
	return tok
}()

func (h *cannedHost) Run(_ context.Context, c remote.Cmd) error {
	h.mu.Lock()
	h.commands = append(h.commands, c.Argv)
	h.mu.Unlock()
	switch {
	case strings.Join(c.Argv, " ") == strings.Join(zfs.ListArgv(), " "):
		fmt.Fprintf(c.Stdout, "tank\tfilesystem\t1\t1\t1700000000\t1\t1\t0\t-\toff\t-\t-\t-\t-\n")
		for d := 0; d < h.datasets; d++ {
			tok := "-"
			if d == 0 {
				tok = cannedToken
			}
			fmt.Fprintf(c.Stdout, "tank/d%d\tfilesystem\t%d\t2\t1700000000\t1\t1\t0\t-\toff\t-\t%s\t-\t-\n", d, 1000+d, tok)
			for s := 0; s < h.snaps; s++ {
				// Every snapshot of every dataset carries one hold.
				fmt.Fprintf(c.Stdout, "tank/d%d@s%d\tsnapshot\t%d\t%d\t1700000000\t0\t1\t1\t1\toff\t-\t-\t-\t-\n", d, s, 10_000_000+d*1000+s, 10+s)
			}
			fmt.Fprintf(c.Stdout, "tank/d%d#b\tbookmark\t%d\t10\t1700000000\t-\t-\t-\t-\t-\t-\t-\t-\t-\n", d, 10_000_000+d*1000)
		}
	case c.Argv[0] == "xargs":
		in, _ := io.ReadAll(c.Stdin)
		for _, name := range strings.Split(strings.TrimSuffix(string(in), "\x00"), "\x00") {
			fmt.Fprintf(c.Stdout, "%s\tkeep\tSun Nov 22 12:00 2026\n", name)
		}
	default:
		return &remote.ExitError{Host: "canned", Argv: c.Argv, Code: 2, Stderr: "unexpected command"}
	}
	return nil
}

func TestObserveCommandCountDoesNotGrow(t *testing.T) {
	counts := map[int]int{}
	for _, n := range []int{10, 10_000} {
		h := &cannedHost{datasets: n, snaps: 2}
		st, err := ObserveHost(context.Background(), "canned", h)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(st.Datasets); got != n+1 {
			t.Fatalf("%d datasets observed, want %d", got, n+1)
		}
		last := st.Datasets[fmt.Sprintf("tank/d%d", n-1)]
		if len(last.Snapshots) != 2 || !last.Snapshots[1].HasHold("keep") || len(last.Bookmarks) != 1 {
			t.Fatalf("last dataset not fully observed: %+v", last)
		}
		if tok := st.Datasets["tank/d0"].Token; tok == nil || tok.ToGUID != 0x10 {
			t.Fatalf("resume token not decoded: %+v", st.Datasets["tank/d0"])
		}
		counts[n] = len(h.commands)
	}
	if counts[10] != counts[10_000] || counts[10] != 2 {
		t.Errorf("commands per host: %v; want 2 (list, holds; tokens are decoded locally) for both sizes", counts)
	}
}

func TestObserveOrdersByCreateTXGAndSetsAsideOrphans(t *testing.T) {
	entries, err := zfs.ParseList([]byte("tank\tfilesystem\t1\t1\t1\t1\t1\t0\t-\toff\t-\t-\t-\t-\n" +
		"tank@b\tsnapshot\t3\t9\t1\t0\t1\t1\t0\toff\t-\t-\t-\t-\n" +
		"tank@a\tsnapshot\t2\t5\t1\t0\t1\t1\t0\toff\t-\t-\t-\t-\n"))
	if err != nil {
		t.Fatal(err)
	}
	h, held, err := build("h", entries)
	if err != nil {
		t.Fatal(err)
	}
	if s := h.Datasets["tank"].Snapshots; s[0].Name != "a" || s[1].Name != "b" || len(held) != 0 {
		t.Errorf("snapshots not in createtxg order or spurious holds: %v %v", s, held)
	}
	orphan, _ := zfs.ParseList([]byte("tank\tfilesystem\t1\t1\t1\t1\t1\t0\t-\toff\t-\t-\t-\t-\n" +
		"gone@x\tsnapshot\t3\t9\t1\t0\t1\t1\t0\toff\t-\t-\t-\t-\n"))
	h, _, err = build("h", orphan)
	if err != nil || h.Datasets["tank"] == nil || !strings.Contains(h.Unreadable["gone"], "gone@x") {
		t.Errorf("a snapshot without its dataset must set that name aside, naming the line, not fail the host: %v %v", h, err)
	}
}

// vanishingHost lists two held snapshots but one is destroyed before the
// holds command runs, as when another tool prunes in between.
type vanishingHost struct{ stderr string }

func (h *vanishingHost) Name() string { return "v" }
func (h *vanishingHost) Close() error { return nil }
func (h *vanishingHost) Run(_ context.Context, c remote.Cmd) error {
	switch c.Argv[0] {
	case "zfs":
		fmt.Fprint(c.Stdout, "tank\tfilesystem\t1\t1\t1700000000\t1\t1\t0\t-\toff\t-\t-\t-\t-\n"+
			"tank@a\tsnapshot\t2\t5\t1700000000\t0\t1\t1\t1\toff\t-\t-\t-\t-\n"+
			"tank@b\tsnapshot\t3\t6\t1700000000\t0\t1\t1\t1\toff\t-\t-\t-\t-\n")
	case "xargs":
		fmt.Fprint(c.Stdout, "tank@b\tkeep\tSun Nov 22 12:00 2026\n")
		return &remote.ExitError{Host: "v", Argv: c.Argv, Code: 123, Stderr: h.stderr}
	}
	return nil
}

func TestObserveSkipsSnapshotsDestroyedMeanwhile(t *testing.T) {
	st, err := ObserveHost(context.Background(), "v", &vanishingHost{stderr: "cannot open 'tank@a': dataset does not exist\n"})
	if err != nil {
		t.Fatal(err)
	}
	if s := st.Datasets["tank"].Snapshots; len(s) != 1 || s[0].Name != "b" || !s[0].HasHold("keep") {
		t.Errorf("snapshots %+v: want only @b, with its hold", s)
	}
	if _, err := ObserveHost(context.Background(), "v", &vanishingHost{stderr: "cannot get holds for 'tank@a': no such pool or dataset\n"}); err != nil {
		t.Errorf("OpenZFS 2.3's wording for a vanished snapshot must not be fatal: %v", err)
	}
	if _, err := ObserveHost(context.Background(), "v", &vanishingHost{stderr: "cannot open 'tank@a': dataset does not exist\nno datasets available\n"}); err != nil {
		t.Errorf("zfs's closing 'no datasets available' must not make it fatal: %v", err)
	}
	if _, err := ObserveHost(context.Background(), "v", &vanishingHost{stderr: "cannot open 'tank@a': permission denied\n"}); err == nil {
		t.Error("a failure other than a vanished snapshot must be an error")
	}
}

// hostileHost prints what a delegated user can shape: a snapshot name
// zfs would never print (a control character) on one dataset, and on
// another a hold tag that imitates a record for a third dataset.
type hostileHost struct{}

func (hostileHost) Name() string { return "hostile" }
func (hostileHost) Close() error { return nil }
func (hostileHost) Run(_ context.Context, c remote.Cmd) error {
	switch c.Argv[0] {
	case "zfs":
		fmt.Fprint(c.Stdout, "tank\tfilesystem\t1\t1\t1700000000\t1\t1\t0\t-\toff\t-\t-\t-\t-\n"+
			"tank/odd\tfilesystem\t2\t2\t1700000000\t1\t1\t0\t-\toff\t-\t-\t-\t-\n"+
			"tank/odd@a\x1bb\tsnapshot\t3\t3\t1700000000\t0\t1\t1\t0\toff\t-\t-\t-\t-\n"+
			"tank/tagger\tfilesystem\t4\t4\t1700000000\t1\t1\t0\t-\toff\t-\t-\t-\t-\n"+
			"tank/tagger@s\tsnapshot\t5\t5\t1700000000\t0\t1\t1\t1\toff\t-\t-\t-\t-\n"+
			"tank/victim\tfilesystem\t6\t6\t1700000000\t1\t1\t0\t-\toff\t-\t-\t-\t-\n"+
			"tank/victim@s\tsnapshot\t7\t7\t1700000000\t0\t1\t1\t1\toff\t-\t-\t-\t-\n"+
			"tank/fine\tfilesystem\t8\t8\t1700000000\t1\t1\t0\t-\toff\t-\t-\t-\t-\n"+
			"tank/fine@s\tsnapshot\t9\t9\t1700000000\t0\t1\t1\t0\toff\t-\t-\t-\t-\n")
	case "xargs":
		fmt.Fprint(c.Stdout, "tank/tagger@s\tx\tSun Nov 22 12:00 2026\ntank/victim@s\tzplan_last_e\tSun Nov 22 12:00 2026\n"+
			"tank/victim@s\tkeep\tSun Nov 22 12:00 2026\n")
	}
	return nil
}

func TestObserveSetsAsideOnlyTheOddDatasets(t *testing.T) {
	st, err := ObserveHost(context.Background(), "hostile", hostileHost{})
	if err != nil {
		t.Fatalf("odd output on some datasets must not fail the host: %v", err)
	}
	for _, name := range []string{"tank/odd", "tank/victim"} {
		if st.Datasets[name] != nil || !strings.Contains(st.Unreadable[name], name) {
			t.Errorf("%s: want it set aside with a reason naming it, got %q", name, st.Unreadable[name])
		}
	}
	if !strings.Contains(st.Unreadable["tank/odd"], "line 3") {
		t.Errorf("the reason must name the listing line: %q", st.Unreadable["tank/odd"])
	}
	if st.Datasets["tank/fine"] == nil || st.Datasets["tank"] == nil || st.Datasets["tank/tagger"].Snapshots[0].Holds[0] != "x" {
		t.Errorf("the other datasets must be observed as usual: %v", st.Datasets)
	}
}
