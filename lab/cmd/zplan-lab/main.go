// Command zplan-lab builds, boots and stops the zplan lab VM (real
// OpenZFS in a QEMU guest). The Makefile targets lab, lab-stop and
// lab-image call it.
//
//	zplan-lab image   build the guest image if the cache lacks it
//	zplan-lab image-dir  print the image's cache dir (a CI cache key)
//	zplan-lab up      boot the VM (or adopt the running one); it keeps running
//	zplan-lab down [-f]  stop the VM, discarding the guest's changes (if tests
//	                  use it, -f stops it now; else the last of them does)
//	zplan-lab status  print the running VM's state
//	zplan-lab ssh [COMMAND...]  log into the guest, or run a command there
package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"

	"github.com/zplan/zplan/lab"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "zplan-lab:", err)
		os.Exit(1)
	}
}

func usage() error {
	return errors.New("usage: zplan-lab image|image-dir|up|down [-f]|status|ssh [COMMAND...]")
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usage()
	}
	switch args[0] {
	case "image":
		track, err := lab.ZFSTrack()
		if err != nil {
			return err
		}
		im, err := lab.EnsureImage(ctx, track, os.Stderr)
		if err != nil {
			return err
		}
		fmt.Printf("image %s (kernel %s, zfsutils-linux %s)\n", im.Dir, im.Kernel, im.ZFS)
		return nil
	case "image-dir":
		track, err := lab.ZFSTrack()
		if err != nil {
			return err
		}
		dir, err := lab.ImageDir(track)
		if err != nil {
			return err
		}
		fmt.Println(dir)
		return nil
	case "up":
		l, err := lab.Up(ctx, os.Stderr)
		if err != nil {
			return err
		}
		defer l.Close()
		fmt.Printf("lab VM up: OpenZFS %s, kernel %s, %s, disks %s\n", l.ZFSVersion, l.Kernel, l.Accel, strings.Join(l.Disks, " "))
		fmt.Printf("connect:  %s\n", strings.Join(l.SSHArgs(), " "))
		fmt.Printf("stop:     make lab-stop\n")
		return nil
	case "down":
		force := len(args) > 1 && args[1] == "-f"
		stopped, err := lab.Down(ctx, force)
		if err != nil {
			return err
		}
		if stopped {
			fmt.Println("lab VM stopped")
		} else {
			fmt.Println("lab VM in use by running tests: it stops when the last of them ends (zplan-lab down -f stops it now)")
		}
		return nil
	case "status":
		st, err := lab.Status()
		if errors.Is(err, fs.ErrNotExist) {
			fmt.Println("no lab VM running")
			return nil
		}
		if err != nil {
			return err
		}
		fmt.Printf("lab VM pid %d, ssh port %d, %s, ZFS track %s, persistent %v, started %s (boot %s)\nimage %s\n",
			st.PID, st.Port, st.Accel, st.Track, st.Persistent, st.Started.Format("2006-01-02 15:04:05Z"), st.BootTime, st.Image)
		return nil
	case "ssh":
		l, err := lab.Up(ctx, os.Stderr)
		if err != nil {
			return err
		}
		l.Close()
		argv := append(l.SSHArgs(), args[1:]...)
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		return cmd.Run()
	}
	return usage()
}
