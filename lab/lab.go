// Package lab gives tests a throwaway machine with real OpenZFS: a Debian
// bookworm guest (OpenZFS 2.3 from bookworm-backports by default) booted
// by QEMU on this host and reached over real SSH with strict host key
// checking.
//
// Use it from a package's tests like this:
//
//	func TestMain(m *testing.M) { lab.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		l := lab.Start(t)          // boots or joins the shared VM
//		pool := l.NewPool(t, 128)  // fresh pool, destroyed at cleanup
//		l.Run(t, "zfs", "create", pool+"/fs")
//		h := l.Host("src")         // a remote.Host for code under test
//		...
//	}
//
// One VM serves every test of a `go test` run, and every package of it:
// the first process that needs the lab boots the VM (or joins one that
// `make lab` or another test process started, found through a state file
// in the cache dir), and the last process to leave stops it, unless
// `make lab` started it. Tests stay isolated by working in their own pools
// (NewPool); pool names are unique across processes.
//
// The image is built once (5-10 minutes, needs root: `make lab-image`
// or lab/ci-setup.sh) and cached in ~/.cache/zplan-lab under a hash of the
// recipe in lab/image; changing the recipe rebuilds it. A cold boot takes
// 35-70 s under TCG emulation; the first one saves the ready guest, and
// later boots restore it in about 3 s.
//
// Environment:
//
//	ZPLAN_LAB=skip     use a lab VM only if one is already running (make lab);
//	                   never build or boot one; skip lab tests (t.Skip)
//	                   when none is usable instead of failing them
//	ZPLAN_LAB=off      skip lab tests without looking for a VM
//	ZPLAN_LAB_ZFS      2.3 (default, bookworm-backports) or 2.1 (bookworm)
//	ZPLAN_LAB_ACCEL    kvm or tcg to override the KVM probe
//	ZPLAN_LAB_CACHE    cache dir (default $XDG_CACHE_HOME/zplan-lab or ~/.cache/zplan-lab)
//	ZPLAN_LAB_SNAPSHOT 0: always boot cold, never save or restore the ready guest
package lab

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zplan/zplan/remote"
)

// Lab is a running lab VM. The connection fields are what an SSH client
// needs: ssh -i IdentityFile -o UserKnownHostsFile=KnownHostsFile -p Port User@Addr.
type Lab struct {
	Addr           string // always "127.0.0.1"
	Port           int
	User           string // "root"
	IdentityFile   string
	KnownHostsFile string

	Kernel     string   // guest kernel release (uname -r)
	ZFSVersion string   // loaded module version, e.g. "2.3.1-1~bpo12+1"
	ZFSTrack   string   // "2.3" or "2.1"
	Accel      string   // "kvm" or "tcg"
	Disks      []string // empty scratch disks in the guest (4 GiB each), e.g. /dev/disk/by-id/virtio-zldisk0; see Disks doc

	host remote.Host
}

// bootCtx is cancelled when Main gets SIGINT or SIGTERM.
var bootCtx, bootCancel = context.WithCancel(context.Background())

var (
	mu         sync.Mutex
	shared     *Lab
	sharedErr  error
	mainActive bool
	users      *os.File // shared flock on the users lock while this process uses the VM
	usersPaths vmPaths  // the VM that users refers to
)

// Main runs the tests of a package that uses the lab and stops the VM
// afterwards if this process booted it and no other process still uses
// it. Call it from TestMain:
//
//	func TestMain(m *testing.M) { lab.Main(m) }
func Main(m *testing.M) {
	mu.Lock()
	mainActive = true
	mu.Unlock()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sig
		fmt.Fprintf(os.Stderr, "lab: %v: stopping the lab VM\n", s)
		bootCancel() // a boot in progress gives up; release then stops the VM
		if err := release(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		os.Exit(2)
	}()
	code := m.Run()
	if err := release(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// Start returns the shared lab VM, booting it on first use (and building
// the image if needed). If the lab cannot start, the test fails, or is
// skipped when ZPLAN_LAB=skip.
func Start(t testing.TB) *Lab {
	t.Helper()
	mode := os.Getenv("ZPLAN_LAB")
	if mode == "off" {
		t.Skip("lab tests off (ZPLAN_LAB=off)")
	}
	l, err := get(logWriter{t})
	if err != nil {
		if mode == "skip" {
			t.Skipf("lab unavailable, skipping (ZPLAN_LAB=skip): %v", err)
		}
		t.Fatalf("lab unavailable: %v\n(set ZPLAN_LAB=skip to skip tests that need the lab)", err)
	}
	return l
}

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func get(log io.Writer) (*Lab, error) {
	mu.Lock()
	defer mu.Unlock()
	if shared != nil || sharedErr != nil {
		return shared, sharedErr
	}
	// Not the test's context: the VM outlives the test that happened to
	// start it, and a half-finished boot would fail every later test.
	// Main's signal handler cancels it.
	bctx, cancel := context.WithTimeout(bootCtx, 15*time.Minute)
	defer cancel()
	shared, sharedErr = acquire(bctx, acquireOpts{needMain: !mainActive, joinOnly: os.Getenv("ZPLAN_LAB") == "skip"}, log)
	return shared, sharedErr
}

type acquireOpts struct {
	persistent bool // `make lab`: mark the VM so that only Stop stops it
	needMain   bool // booting is refused: nobody would stop the VM
	joinOnly   bool // use a running VM only; never build or boot
}

// acquire boots or joins the VM and registers this process as a user.
func acquire(ctx context.Context, o acquireOpts, log io.Writer) (l *Lab, err error) {
	track, err := ZFSTrack()
	if err != nil {
		return nil, err
	}
	ps, err := pathsFor(track)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(ps.root, 0o755); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	want, err := ImageDir(track)
	if err != nil {
		return nil, err
	}
	unlock, err := lockFile(ctx, ps.vmLock)
	if err != nil {
		return nil, err
	}
	defer unlock()
	dir := ps.dir

	st, err := readState(dir)
	switch {
	case err == nil && st.alive(dir) && st.Image == want:
		// join it
	case err == nil && st.alive(dir):
		if st.Persistent || othersUse(ps.usersLock) {
			return nil, fmt.Errorf("lab: the running lab VM uses image %s but this build wants %s (recipe or ZPLAN_LAB_ZFS changed): stop it with `make lab-stop`", st.Image, want)
		}
		fmt.Fprintf(log, "lab: stopping an idle VM with an outdated image\n")
		if err := stopVM(dir); err != nil {
			return nil, err
		}
		st = nil
	default:
		if err != nil && !errNotExist(err) {
			fmt.Fprintf(log, "lab: ignoring broken state: %v\n", err)
		}
		if err := stopVM(dir); err != nil { // clean up a dead VM's leftovers
			return nil, err
		}
		st = nil
	}

	im, err := loadImage(want, track)
	booted := false
	// A VM booted here for tests is stopped if this process cannot use it.
	defer func() {
		if booted && !o.persistent && err != nil {
			_ = stopVM(dir)
		}
	}()
	if st == nil {
		if o.joinOnly {
			return nil, errors.New("lab: no lab VM is running (ZPLAN_LAB=skip never boots one; `make lab` starts one)")
		}
		for _, tool := range []string{"qemu-system-x86_64", "qemu-img"} {
			if _, err := exec.LookPath(tool); err != nil {
				return nil, fmt.Errorf("lab: %s not found (install qemu-system-x86 and qemu-utils: lab/ci-setup.sh): %w", tool, err)
			}
		}
		if o.needMain {
			return nil, errors.New("lab: no lab VM is running and this test binary cannot stop one it would boot: call lab.Main(m) from TestMain, or start one with `make lab`")
		}
		if err != nil {
			if im, err = EnsureImage(ctx, track, log); err != nil {
				return nil, err
			}
		}
		if st, err = boot(ctx, dir, im, o.persistent, log); err != nil {
			return nil, err
		}
		booted = true
	} else if err != nil {
		return nil, err
	} else if o.persistent && !st.Persistent {
		st.Persistent = true
		if err := writeState(dir, st); err != nil {
			return nil, err
		}
	}

	l = &Lab{
		Addr: "127.0.0.1", Port: st.Port, User: "root",
		IdentityFile:   im.path("id_ed25519"),
		KnownHostsFile: filepath.Join(dir, "known_hosts"),
		ZFSTrack:       track, Accel: st.Accel, Disks: st.Disks,
	}
	l.host, err = dialGuest(ctx, "lab", l.Port, l.IdentityFile, l.KnownHostsFile, guestSSHTimeout)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := l.host.Run(ctx, cmdOf(&out, "sh", "-c", "uname -r; cat /sys/module/zfs/version")); err != nil {
		l.host.Close()
		return nil, fmt.Errorf("lab: guest not usable: %w", err)
	}
	f := strings.Fields(out.String())
	if len(f) == 2 {
		l.Kernel, l.ZFSVersion = f[0], f[1]
	}
	if !o.persistent {
		u, err := os.OpenFile(ps.usersLock, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			l.host.Close()
			return nil, fmt.Errorf("lab: %w", err)
		}
		if err := syscall.Flock(int(u.Fd()), syscall.LOCK_SH); err != nil {
			u.Close()
			l.host.Close()
			return nil, fmt.Errorf("lab: lock users.lock: %w", err)
		}
		users, usersPaths = u, ps
	}
	return l, nil
}

// othersUse reports whether some process holds the users lock. The caller
// holds the VM lock and no users lock of its own.
func othersUse(usersLock string) bool {
	f, err := os.OpenFile(usersLock, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return true
	}
	defer f.Close()
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil
}

// release ends this process's use of the VM and stops it when nobody else
// uses it and `make lab` did not start it.
func release() error {
	mu.Lock()
	defer mu.Unlock()
	if shared != nil {
		shared.host.Close()
		shared = nil
	}
	sharedErr = errors.New("lab: released")
	if users == nil {
		return nil
	}
	ps := usersPaths
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	unlock, err := lockFile(ctx, ps.vmLock)
	if err != nil {
		return err
	}
	defer unlock()
	users.Close()
	users = nil
	if othersUse(ps.usersLock) {
		return nil
	}
	dir := ps.dir
	st, err := readState(dir)
	if err != nil || st.Persistent {
		return nil
	}
	return stopVM(dir)
}

// Up boots the lab VM (or adopts the running one) and leaves it running
// until Down; this is `make lab`.
func Up(ctx context.Context, log io.Writer) (*Lab, error) {
	return acquire(ctx, acquireOpts{persistent: true}, log)
}

// Down stops the lab VM of the track selected by $ZPLAN_LAB_ZFS. If test
// processes still use it and force is false, it only hands the VM over to
// them: the last one to finish stops it, and Down reports stopped=false.
func Down(ctx context.Context, force bool) (stopped bool, err error) {
	ps, err := currentPaths()
	if err != nil {
		return false, err
	}
	unlock, err := lockFile(ctx, ps.vmLock)
	if err != nil {
		return false, err
	}
	defer unlock()
	dir := ps.dir
	if !force && othersUse(ps.usersLock) {
		st, err := readState(dir)
		if err == nil && st.alive(dir) {
			st.Persistent = false
			return false, writeState(dir, st)
		}
	}
	return true, stopVM(dir)
}

func currentPaths() (vmPaths, error) {
	track, err := ZFSTrack()
	if err != nil {
		return vmPaths{}, err
	}
	return pathsFor(track)
}

// Status returns the state of the running VM of the track selected by
// $ZPLAN_LAB_ZFS, or an error wrapping fs.ErrNotExist if none runs.
func Status() (*State, error) {
	ps, err := currentPaths()
	if err != nil {
		return nil, err
	}
	dir := ps.dir
	st, err := readState(dir)
	if err != nil {
		return nil, err
	}
	if !st.alive(dir) {
		return nil, fmt.Errorf("lab: VM pid %d is gone: %w", st.PID, os.ErrNotExist)
	}
	return st, nil
}

// Close closes this Lab's SSH connection (for Up's callers; tests do not
// call it).
func (l *Lab) Close() error { return l.host.Close() }

// SSHArgs is an ssh command line that logs into the guest with strict
// host key checking; append a remote command to run one.
func (l *Lab) SSHArgs() []string {
	return []string{"ssh", "-i", l.IdentityFile,
		"-o", "UserKnownHostsFile=" + l.KnownHostsFile, "-o", "StrictHostKeyChecking=yes",
		"-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
		"-p", strconv.Itoa(l.Port), l.User + "@" + l.Addr}
}

// guestSSHTimeout bounds an SSH handshake with the guest: under TCG a
// guest loaded by parallel tests has taken over 20s.
const guestSSHTimeout = 60 * time.Second

// SSHConfig describes the guest for remote.DialSSH, for code under test
// that opens its own connections (each costs about a second under
// emulation; Host shares one).
func (l *Lab) SSHConfig(name string) remote.SSHConfig {
	return sshConfig(name, l.Port, l.IdentityFile, l.KnownHostsFile, guestSSHTimeout)
}

// Host returns a remote.Host named name that runs commands in the guest
// over the lab's shared SSH connection. Several names (say "src" and
// "dst") may stand for the same guest. Its Close is a no-op; the
// connection lives as long as the lab.
func (l *Lab) Host(name string) remote.Host {
	return named{h: l.host, n: name}
}

// Exec runs argv in the guest and returns its stdout. A non-zero exit is
// a *remote.ExitError carrying stderr.
func (l *Lab) Exec(ctx context.Context, argv ...string) (string, error) {
	var out bytes.Buffer
	err := l.host.Run(ctx, remote.Cmd{Argv: argv, Stdout: &out})
	return out.String(), err
}

// Run runs argv in the guest, fails the test if it fails, and returns its
// stdout. The command is cancelled when the test ends.
func (l *Lab) Run(t testing.TB, argv ...string) string {
	t.Helper()
	out, err := l.Exec(t.Context(), argv...)
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	return out
}

// Sh runs a shell script (sh -ec) in the guest, fails the test if it
// fails, and returns its stdout. One round trip for several commands.
func (l *Lab) Sh(t testing.TB, script string) string {
	t.Helper()
	return l.Run(t, "sh", "-ec", script)
}

// Fails runs argv in the guest, fails the test unless it exits non-zero,
// and returns the exit error (with its stderr).
func (l *Lab) Fails(t testing.TB, argv ...string) *remote.ExitError {
	t.Helper()
	_, err := l.Exec(t.Context(), argv...)
	var ee *remote.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("lab: %s: want a failing exit, got %v", strings.Join(argv, " "), err)
	}
	return ee
}

// vdevDir holds NewPool's file vdevs in the guest.
const vdevDir = "/var/tmp/zplan-lab"

// NewPool creates a pool with a unique name on a sizeMiB file vdev in the
// guest (at least 64), and destroys it when the test ends. The pool is
// mounted at /<name>. It returns the pool name.
func (l *Lab) NewPool(t testing.TB, sizeMiB int, zpoolCreateArgs ...string) string {
	t.Helper()
	if sizeMiB < 64 {
		sizeMiB = 64
	}
	name := poolName(t.Name())
	vdev := vdevDir + "/" + name + ".vdev"
	argv := []string{"sh", "-ec", `mkdir -p "$1" && truncate -s "$2"M "$3" && shift 3 && exec zpool create -f "$@"`,
		"sh", vdevDir, strconv.Itoa(sizeMiB), vdev}
	argv = append(argv, zpoolCreateArgs...)
	argv = append(argv, name, vdev)
	if _, err := l.Exec(t.Context(), argv...); err != nil {
		t.Fatalf("lab: create pool %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := l.Exec(ctx, "sh", "-c", `zpool destroy -f "$1"; rc=$?; rm -f "$2"; exit $rc`, "sh", name, vdev); err != nil {
			t.Errorf("lab: destroy pool %s: %v", name, err)
		}
	})
	return name
}

// poolName makes a unique, valid pool name from a test name.
func poolName(test string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(test) {
		if b.Len() >= 16 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "_"):
			b.WriteByte('_')
		}
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name := "lab_"
	if s := strings.Trim(b.String(), "_"); s != "" {
		name += s + "_"
	}
	return name + hex.EncodeToString(rnd[:])
}
