package lab

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The running VM lives in <cache>/run (run-zfs2.1 for the 2.1 track): one
// VM per cache root and track, shared by every process that uses the lab.
// Processes using it hold a shared flock on users.lock; vm.lock serialises
// booting, joining and leaving, so the last user of a non-persistent VM
// can stop it.

// State describes a running lab VM (run/state.json).
type State struct {
	PID        int       `json:"pid"`
	Port       int       `json:"port"`
	Image      string    `json:"image"` // image directory
	Track      string    `json:"track"`
	Accel      string    `json:"accel"`
	Persistent bool      `json:"persistent"` // started by `make lab`: only `make lab-stop` stops it
	Started    time.Time `json:"started"`
	BootTime   string    `json:"boot_time"` // how long the boot to ready took
	Disks      []string  `json:"disks"`     // scratch disks, as guest device paths
}

const (
	guestMemMiB  = 2048
	scratchDisks = 4
	scratchGiB   = 4
	readyTimeout = 4 * time.Minute
	stateFile    = "state.json"
)

// vmPaths are the files of one track's VM. Each ZFS track has its own
// VM, so a 2.1 run does not disturb a 2.3 VM.
type vmPaths struct {
	root      string // cache root
	dir       string // run dir: state, overlay, disks, sockets
	vmLock    string // serialises boot, join, leave, stop
	usersLock string // shared flock held by each process using the VM
}

func pathsFor(track string) (vmPaths, error) {
	root, err := CacheRoot()
	if err != nil {
		return vmPaths{}, err
	}
	suffix := ""
	if track != ZFS23 {
		suffix = "-zfs" + track
	}
	return vmPaths{
		root:      root,
		dir:       filepath.Join(root, "run"+suffix),
		vmLock:    filepath.Join(root, "vm"+suffix+".lock"),
		usersLock: filepath.Join(root, "users"+suffix+".lock"),
	}, nil
}

func readState(dir string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("lab: parse %s: %w", filepath.Join(dir, stateFile), err)
	}
	return &st, nil
}

func writeState(dir string, st *State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, stateFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("lab: write state: %w", err)
	}
	return os.Rename(tmp, filepath.Join(dir, stateFile))
}

// alive reports whether the QEMU process of st is still running (and is
// ours: its command line names the run dir).
func (st *State) alive(dir string) bool {
	if st.PID <= 0 {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", st.PID))
	if err != nil {
		return false
	}
	if !bytes.Contains(b, []byte(dir+"/")) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", st.PID))
	if err != nil {
		return false
	}
	// state is the field after "(comm)"
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
		return false
	}
	return true
}

// lockFile takes an exclusive flock on path, waiting until ctx ends.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lab: lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lab: waiting for %s: %w", path, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Accel picks the accelerator: $ZPLAN_LAB_ACCEL (kvm or tcg) if set, else
// KVM if a probe boot of the guest kernel under KVM reaches its first
// kernel panic (no root given) within 20 s, else TCG. A /dev/kvm that
// exists but cannot run the guest (nested setups) falls back to TCG.
func Accel(ctx context.Context, kernel string) (accel string, why string) {
	switch v := os.Getenv("ZPLAN_LAB_ACCEL"); v {
	case "kvm", "tcg":
		return v, "ZPLAN_LAB_ACCEL=" + v
	}
	if _, err := os.Stat("/dev/kvm"); err != nil {
		return "tcg", "no /dev/kvm"
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", "-accel", "kvm", "-cpu", "host",
		"-machine", "pc", "-m", "256", "-nodefaults", "-display", "none", "-serial", "stdio",
		"-no-reboot", "-kernel", kernel, "-append", "console=ttyS0 panic=-1 loglevel=4")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	if bytes.Contains(out.Bytes(), []byte("Kernel panic")) {
		return "kvm", fmt.Sprintf("KVM probe booted the kernel in %s", time.Since(start).Round(100*time.Millisecond))
	}
	msg := strings.TrimSpace(lastLine(out.String()))
	if err != nil && msg == "" {
		msg = err.Error()
	}
	return "tcg", "KVM probe failed: " + msg
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("lab: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// boot starts QEMU daemonized in dir and waits until the guest answers
// SSH with /dev/zfs present. dir must be locked by the caller.
//
// The first cold boot of an image saves the ready guest (RAM and root
// disk, via QMP migrate) into the image dir; later boots restore that
// snapshot in a few seconds instead of booting (ZPLAN_LAB_SNAPSHOT=0
// turns this off). A snapshot that fails to restore is deleted and the
// VM boots cold.
func boot(ctx context.Context, dir string, im *Image, persistent bool, log io.Writer) (*State, error) {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		return nil, fmt.Errorf("lab: qemu-system-x86_64 not found (install qemu-system-x86, see lab/ci-setup.sh): %w", err)
	}
	accel, why := Accel(ctx, im.path("vmlinuz"))
	spec := newVMSpec(im, accel)
	snap := filepath.Join(im.Dir, "snapshot-"+accel+"-"+spec.hash())
	useSnap := os.Getenv("ZPLAN_LAB_SNAPSHOT") != "0"
	if useSnap && snapshotMatches(snap, spec) {
		fmt.Fprintf(log, "lab: restoring the saved VM (%s, %s)\n", accel, why)
		st, err := startVM(ctx, dir, im, spec, snap, persistent, log)
		if err == nil {
			return st, nil
		}
		fmt.Fprintf(log, "lab: restore failed, deleting the snapshot and booting cold: %v\n", err)
		if err := stopVM(dir); err != nil {
			return nil, err
		}
		_ = os.RemoveAll(snap)
	}
	fmt.Fprintf(log, "lab: booting VM with %s (%s)\n", accel, why)
	st, err := startVM(ctx, dir, im, spec, "", persistent, log)
	if err != nil {
		return nil, err
	}
	if useSnap && !snapshotMatches(snap, spec) {
		start := time.Now()
		if err := saveSnapshot(ctx, dir, snap, spec); err != nil {
			fmt.Fprintf(log, "lab: could not save a VM snapshot (later boots stay cold): %v\n", err)
		} else {
			fmt.Fprintf(log, "lab: saved the ready VM in %s for fast restores\n", time.Since(start).Round(100*time.Millisecond))
		}
	}
	return st, nil
}

// vmSpec is the VM's hardware. A snapshot restores only into the same
// hardware, so its signature is stored with the snapshot.
type vmSpec struct {
	args []string // everything but per-run paths and the port
	sig  string
}

const (
	runPlaceholder = "@RUN@"
	guestCmdline   = "root=/dev/disk/by-id/virtio-zlroot rw console=ttyS0 net.ifnames=0 fsck.mode=skip quiet mitigations=off panic=-1 systemd.gpt_auto=0"
)

func newVMSpec(im *Image, accel string) vmSpec {
	cpus := min(runtime.NumCPU(), 2)
	args := []string{
		"-name", "zplan-lab", "-machine", "pc", "-m", strconv.Itoa(guestMemMiB), "-smp", strconv.Itoa(cpus),
		"-nodefaults", "-display", "none", "-no-reboot",
		"-kernel", im.path("vmlinuz"), "-initrd", im.path("initrd.img"), "-append", guestCmdline,
		"-drive", "file=" + runPlaceholder + "/root.qcow2,if=none,id=root,format=qcow2,cache=unsafe,discard=unmap",
		"-device", "virtio-blk-pci,drive=root,serial=zlroot",
		"-device", "virtio-rng-pci",
	}
	if accel == "kvm" {
		args = append(args, "-accel", "kvm", "-cpu", "host")
	} else {
		args = append(args, "-accel", "tcg,thread=multi", "-cpu", "max")
	}
	for i := 0; i < scratchDisks; i++ {
		args = append(args,
			"-drive", fmt.Sprintf("file=%s/disk%d.raw,if=none,id=d%d,format=raw,cache=unsafe,discard=unmap", runPlaceholder, i, i),
			"-device", fmt.Sprintf("virtio-blk-pci,drive=d%d,serial=zldisk%d", i, i))
	}
	args = append(args, "-device", "virtio-net-pci,netdev=n0")
	return vmSpec{args: args, sig: fmt.Sprintf("scratch=%dG\n%s", scratchGiB, strings.Join(args, "\n"))}
}

func (v vmSpec) hash() string {
	h := sha256.Sum256([]byte(v.sig))
	return hex.EncodeToString(h[:])[:12]
}

func snapshotMatches(snap string, spec vmSpec) bool {
	b, err := os.ReadFile(filepath.Join(snap, "spec"))
	return err == nil && string(b) == spec.sig
}

// startVM starts QEMU for spec in dir, cold or restoring snap, and waits
// until the guest is ready.
func startVM(ctx context.Context, dir string, im *Image, spec vmSpec, snap string, persistent bool, log io.Writer) (*State, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("lab: clean %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	backing, format := im.path("rootfs.img"), "raw"
	if snap != "" {
		backing, format = filepath.Join(snap, "root.qcow2"), "qcow2"
	}
	if out, err := exec.CommandContext(ctx, "qemu-img", "create", "-q", "-f", "qcow2",
		"-b", backing, "-F", format, filepath.Join(dir, "root.qcow2")).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("lab: qemu-img create overlay: %v: %s", err, out)
	}
	st := &State{Image: im.Dir, Track: im.Track, Persistent: persistent}
	st.Accel = "tcg"
	if slices.Contains(spec.args, "kvm") {
		st.Accel = "kvm"
	}
	for i := 0; i < scratchDisks; i++ {
		disk := filepath.Join(dir, fmt.Sprintf("disk%d.raw", i))
		if err := os.WriteFile(disk, nil, 0o644); err != nil {
			return nil, fmt.Errorf("lab: %w", err)
		}
		if err := os.Truncate(disk, scratchGiB<<30); err != nil {
			return nil, fmt.Errorf("lab: %w", err)
		}
		st.Disks = append(st.Disks, fmt.Sprintf("/dev/disk/by-id/virtio-zldisk%d", i))
	}
	args := make([]string, len(spec.args))
	for i, a := range spec.args {
		args[i] = strings.ReplaceAll(a, runPlaceholder, dir)
	}
	args = append(args,
		"-serial", "file:"+filepath.Join(dir, "serial.log"),
		"-qmp", "unix:"+filepath.Join(dir, "qmp.sock")+",server=on,wait=off",
		"-pidfile", filepath.Join(dir, "qemu.pid"), "-daemonize")
	if snap != "" {
		args = append(args, "-incoming", "exec:cat "+filepath.Join(snap, "vm.state"))
	}
	start := time.Now()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		netdev := fmt.Sprintf("user,id=n0,hostfwd=tcp:127.0.0.1:%d-:22", port)
		out, err := exec.CommandContext(ctx, "qemu-system-x86_64", append(args, "-netdev", netdev)...).CombinedOutput()
		if err != nil {
			lastErr = fmt.Errorf("lab: qemu failed to start: %v: %s", err, bytes.TrimSpace(out))
			if bytes.Contains(out, []byte("hostfwd")) || bytes.Contains(out, []byte("forward")) {
				continue // port taken meanwhile; try another
			}
			return nil, lastErr
		}
		st.Port, lastErr = port, nil
		break
	}
	if lastErr != nil {
		return nil, lastErr
	}
	pidb, err := os.ReadFile(filepath.Join(dir, "qemu.pid"))
	if err != nil {
		return nil, fmt.Errorf("lab: qemu pid file: %w", err)
	}
	if st.PID, err = strconv.Atoi(strings.TrimSpace(string(pidb))); err != nil {
		return nil, fmt.Errorf("lab: qemu pid file: %w", err)
	}
	st.Started = time.Now().UTC()
	fail := func(err error) (*State, error) {
		stopPID(st.PID, dir)
		return nil, err
	}
	if err := writeKnownHosts(dir, im, st.Port); err != nil {
		return fail(err)
	}
	if err := writeState(dir, st); err != nil {
		return fail(err)
	}
	timeout := readyTimeout
	if snap != "" {
		timeout = time.Minute
		if err := resumeRestored(ctx, dir); err != nil {
			return fail(err)
		}
	}
	if err := waitReady(ctx, dir, im, st, timeout, snap != ""); err != nil {
		return fail(err)
	}
	st.BootTime = time.Since(start).Round(100 * time.Millisecond).String()
	how := "booted"
	if snap != "" {
		how = "restored"
	}
	fmt.Fprintf(log, "lab: VM %s and ready in %s (ssh port %d)\n", how, st.BootTime, st.Port)
	return st, writeState(dir, st)
}

// resumeRestored waits for the incoming migration to finish and makes
// sure the guest runs.
func resumeRestored(ctx context.Context, dir string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	q, err := dialQMP(ctx, filepath.Join(dir, "qmp.sock"))
	if err != nil {
		return err
	}
	defer q.Close()
	for {
		s, err := q.status()
		if err != nil {
			return err
		}
		switch s {
		case "running":
			return nil
		case "paused", "postmigrate":
			_, err := q.do("cont", nil)
			return err
		case "inmigrate", "prelaunch", "restore-vm":
		default:
			return fmt.Errorf("lab: restored VM in state %q", s)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("lab: restoring the VM: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// saveSnapshot pauses the ready VM of dir, saves its RAM and device state
// and a copy of its root overlay into snap, and lets it run on.
func saveSnapshot(ctx context.Context, dir, snap string, spec vmSpec) (err error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	tmp, err := os.MkdirTemp(filepath.Dir(snap), ".snapshot-")
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	defer os.RemoveAll(tmp)
	q, err := dialQMP(ctx, filepath.Join(dir, "qmp.sock"))
	if err != nil {
		return err
	}
	defer q.Close()
	if _, err := q.do("migrate-set-parameters", map[string]any{"max-bandwidth": int64(8) << 30}); err != nil {
		return err
	}
	if _, err := q.do("stop", nil); err != nil {
		return err
	}
	defer func() {
		if _, cerr := q.do("cont", nil); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if _, err := q.do("migrate", map[string]any{"uri": "exec:cat > " + filepath.Join(tmp, "vm.state")}); err != nil {
		return err
	}
	for {
		s, desc, err := q.migrationStatus()
		if err != nil {
			return err
		}
		if s == "completed" {
			break
		}
		if s == "failed" || s == "cancelled" {
			return fmt.Errorf("lab: saving the VM: migration %s: %s", s, desc)
		}
		select {
		case <-ctx.Done():
			_, _ = q.do("migrate_cancel", nil)
			return fmt.Errorf("lab: saving the VM: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	// The disks are flushed and inactive until cont: copy the overlay now.
	if err := copyFile(filepath.Join(dir, "root.qcow2"), filepath.Join(tmp, "root.qcow2")); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, "spec"), []byte(spec.sig), 0o644); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	_ = os.RemoveAll(snap)
	if err := os.Rename(tmp, snap); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("lab: copy %s: %w", src, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	return nil
}

func writeKnownHosts(dir string, im *Image, port int) error {
	key, err := os.ReadFile(im.path("ssh_host_ed25519_key.pub"))
	if err != nil {
		return fmt.Errorf("lab: guest host key: %w", err)
	}
	f := strings.Fields(string(key))
	if len(f) < 2 {
		return fmt.Errorf("lab: malformed guest host key %s", im.path("ssh_host_ed25519_key.pub"))
	}
	line := fmt.Sprintf("[127.0.0.1]:%d %s %s\n", port, f[0], f[1])
	if err := os.WriteFile(filepath.Join(dir, "known_hosts"), []byte(line), 0o644); err != nil {
		return fmt.Errorf("lab: write known_hosts: %w", err)
	}
	return nil
}

// waitReady polls until SSH works and /dev/zfs exists in the guest. A
// restored guest's clock is set to the host's (it resumes with the time
// of the save).
func waitReady(ctx context.Context, dir string, im *Image, st *State, timeout time.Duration, setClock bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		if !st.alive(dir) {
			return fmt.Errorf("lab: qemu exited during boot; serial console:\n%s", tail(filepath.Join(dir, "serial.log"), 30))
		}
		h, err := dialGuest(ctx, "lab", st.Port, im.path("id_ed25519"), filepath.Join(dir, "known_hosts"), 10*time.Second)
		if err == nil {
			script := "test -c /dev/zfs && cat /sys/module/zfs/version"
			if setClock {
				now := time.Now()
				script = fmt.Sprintf("date -u -s @%d.%09d >/dev/null && %s", now.Unix(), now.Nanosecond(), script)
			}
			err = h.Run(ctx, cmdOf(io.Discard, "sh", "-c", script))
			h.Close()
			if err == nil {
				return nil
			}
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("lab: guest not ready after %s (last error: %v); serial console:\n%s",
				timeout, last, tail(filepath.Join(dir, "serial.log"), 30))
		case <-time.After(time.Second):
		}
	}
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// stopPID ends QEMU: SIGTERM, then SIGKILL after 10 s.
func stopPID(pid int, dir string) {
	st := &State{PID: pid}
	if !st.alive(dir) {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for i := 0; i < 100; i++ {
		if !st.alive(dir) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; i < 50 && st.alive(dir); i++ {
		time.Sleep(100 * time.Millisecond)
	}
}

// stopVM stops the VM of dir and removes its files (the guest's changes
// are discarded with the overlay). The serial log is kept as
// <cache>/last-serial.log. dir must be locked by the caller.
func stopVM(dir string) error {
	st, err := readState(dir)
	if err == nil {
		stopPID(st.PID, dir)
		if st.alive(dir) {
			return fmt.Errorf("lab: qemu pid %d would not stop", st.PID)
		}
	} else if !errNotExist(err) {
		return err
	}
	_ = os.Rename(filepath.Join(dir, "serial.log"), filepath.Join(filepath.Dir(dir), "last-serial.log"))
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("lab: remove %s: %w", dir, err)
	}
	return nil
}
