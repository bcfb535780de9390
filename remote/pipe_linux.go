package remote

import (
	"os"

	"golang.org/x/sys/unix"
)

// setPipeSize grows a pipe to 1 MiB (Linux' default is 64 KiB), so a
// fast producer is not woken for every 64 KiB. Best effort: an
// unprivileged process is capped by /proc/sys/fs/pipe-max-size.
func setPipeSize(f *os.File) {
	// Control, not Fd: Fd would switch the file to blocking mode.
	if rc, err := f.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			_, _ = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, copyBufSize)
		})
	}
}
