package lab

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// recipe is the image build recipe: build.sh and the files it copies into
// the guest. Its hash names the cached image, so any change to it builds
// a new image on the next run.
//
//go:embed image
var recipe embed.FS

// ZFS tracks the lab can build.
const (
	ZFS23 = "2.3" // bookworm-backports contrib (default)
	ZFS21 = "2.1" // bookworm contrib, 2.1.11
)

// CacheRoot is where images and the running VM's state live:
// $ZPLAN_LAB_CACHE, else $XDG_CACHE_HOME/zplan-lab, else ~/.cache/zplan-lab.
func CacheRoot() (string, error) {
	if d := os.Getenv("ZPLAN_LAB_CACHE"); d != "" {
		return filepath.Abs(d)
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "zplan-lab"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("lab: no cache dir: set ZPLAN_LAB_CACHE: %w", err)
	}
	return filepath.Join(home, ".cache", "zplan-lab"), nil
}

// ZFSTrack is the OpenZFS track selected by $ZPLAN_LAB_ZFS (default 2.3).
func ZFSTrack() (string, error) {
	switch v := os.Getenv("ZPLAN_LAB_ZFS"); v {
	case "", ZFS23:
		return ZFS23, nil
	case ZFS21:
		return ZFS21, nil
	default:
		return "", fmt.Errorf("lab: ZPLAN_LAB_ZFS=%q: want %s or %s", v, ZFS23, ZFS21)
	}
}

// RecipeHash hashes the embedded recipe and the ZFS track.
func RecipeHash(track string) (string, error) {
	var paths []string
	err := fs.WalkDir(recipe, "image", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("lab: walk recipe: %w", err)
	}
	sort.Strings(paths)
	h := sha256.New()
	fmt.Fprintf(h, "zfs=%s\n", track)
	for _, p := range paths {
		b, err := recipe.ReadFile(p)
		if err != nil {
			return "", fmt.Errorf("lab: read recipe: %w", err)
		}
		fmt.Fprintf(h, "%s %d\n", p, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// Image is a built guest image in the cache.
type Image struct {
	Dir    string // cache directory holding the files below
	Track  string // ZFS track, "2.3" or "2.1"
	Kernel string // guest kernel version
	ZFS    string // Debian version of zfsutils-linux
}

func (im *Image) path(name string) string { return filepath.Join(im.Dir, name) }

// imageFiles must all exist for an image to count as built.
var imageFiles = []string{"rootfs.img", "vmlinuz", "initrd.img", "id_ed25519", "id_ed25519.pub", "ssh_host_ed25519_key.pub", "info.env"}

// ImageDir is the cache directory of the image for track.
func ImageDir(track string) (string, error) {
	root, err := CacheRoot()
	if err != nil {
		return "", err
	}
	h, err := RecipeHash(track)
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "image-zfs"+track+"-"+h), nil
}

// loadImage reads a built image; it fails with fs.ErrNotExist if the
// image is missing or incomplete.
func loadImage(dir, track string) (*Image, error) {
	for _, f := range imageFiles {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return nil, fmt.Errorf("lab: image %s incomplete: %w", dir, err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "info.env"))
	if err != nil {
		return nil, fmt.Errorf("lab: read image info: %w", err)
	}
	im := &Image{Dir: dir, Track: track}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "KERNEL":
			im.Kernel = v
		case "ZFS_PACKAGE":
			im.ZFS = v
		}
	}
	return im, nil
}

// EnsureImage returns the cached image for track, building it first if
// the recipe changed or it was never built. Building takes about five
// minutes and needs root; its log goes to log (and to build.log in the
// cache root). Concurrent callers wait for one build.
func EnsureImage(ctx context.Context, track string, log io.Writer) (*Image, error) {
	dir, err := ImageDir(track)
	if err != nil {
		return nil, err
	}
	if im, err := loadImage(dir, track); err == nil {
		return im, nil
	}
	root := filepath.Dir(dir)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(root, "build.lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	if im, err := loadImage(dir, track); err == nil {
		return im, nil // someone else built it while we waited
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("lab: image %s is not built and building needs root: run `sudo make lab-image` (or lab/ci-setup.sh)", dir)
	}
	if err := os.RemoveAll(dir); err != nil { // an incomplete leftover
		return nil, fmt.Errorf("lab: %w", err)
	}
	if err := build(ctx, dir, track, root, log); err != nil {
		return nil, err
	}
	pruneImages(root, track, dir)
	return loadImage(dir, track)
}

func build(ctx context.Context, dir, track, root string, log io.Writer) error {
	src, err := os.MkdirTemp("", "zplan-lab-recipe-")
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	defer os.RemoveAll(src)
	sub, err := fs.Sub(recipe, "image")
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	if err := os.CopyFS(src, sub); err != nil {
		return fmt.Errorf("lab: extract recipe: %w", err)
	}
	logf, err := os.Create(filepath.Join(root, "build.log"))
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	defer logf.Close()
	var out io.Writer = logf
	if log != nil {
		out = io.MultiWriter(logf, log)
	}
	fmt.Fprintf(out, "lab: building image %s (about 5 minutes)\n", dir)
	start := time.Now()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(src, "build.sh"), dir)
	cmd.Env = append(os.Environ(), "ZPLAN_LAB_ZFS="+track)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 30 * time.Second
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("lab: image build failed (log: %s): %w", logf.Name(), err)
	}
	fmt.Fprintf(out, "lab: image built in %s\n", time.Since(start).Round(time.Second))
	return nil
}

// pruneImages removes older images of track, except keep and the image
// of a VM that is still running.
func pruneImages(root, track, keep string) {
	inUse := ""
	if ps, err := pathsFor(track); err == nil {
		if st, err := readState(ps.dir); err == nil {
			inUse = st.Image
		}
	}
	old, _ := filepath.Glob(filepath.Join(root, "image-zfs"+track+"-*"))
	for _, d := range old {
		if d != keep && d != inUse {
			_ = os.RemoveAll(d)
		}
	}
}

// errNotExist reports whether err means a missing file.
func errNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
