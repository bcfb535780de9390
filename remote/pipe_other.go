//go:build !linux

package remote

import "os"

func setPipeSize(*os.File) {}
