package lab

import (
	"regexp"
	"strings"
	"testing"
)

// Unit tests of the helpers; they need no VM.

func TestPoolName(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	seen := map[string]bool{}
	for _, test := range []string{"TestX", "TestReplication/full_send#01", "Test_ÄÖ--weird  name", "", strings.Repeat("Long", 40)} {
		for i := 0; i < 3; i++ {
			n := poolName(test)
			if !valid.MatchString(n) || len(n) > 40 || strings.Contains(n, "__") {
				t.Errorf("poolName(%q) = %q: not a short valid pool name", test, n)
			}
			if seen[n] {
				t.Errorf("poolName(%q) repeated %q", test, n)
			}
			seen[n] = true
		}
	}
}

func TestRecipeHash(t *testing.T) {
	a, err := RecipeHash(ZFS23)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := RecipeHash(ZFS23)
	c, _ := RecipeHash(ZFS21)
	if a != b || a == c || len(a) != 16 {
		t.Errorf("RecipeHash: 2.3 %q/%q, 2.1 %q", a, b, c)
	}
	if _, err := recipe.ReadFile("image/build.sh"); err != nil {
		t.Errorf("recipe lacks build.sh: %v", err)
	}
}

func TestPathsPerTrack(t *testing.T) {
	t.Setenv("ZPLAN_LAB_CACHE", t.TempDir())
	p23, _ := pathsFor(ZFS23)
	p21, _ := pathsFor(ZFS21)
	if p23.dir == p21.dir || p23.vmLock == p21.vmLock || p23.usersLock == p21.usersLock {
		t.Errorf("tracks share files: %+v %+v", p23, p21)
	}
	st := &State{PID: 1}
	if st.alive(p23.dir) {
		t.Errorf("pid 1 taken for a lab VM")
	}
}

func TestVMSpecSignature(t *testing.T) {
	im := &Image{Dir: "/cache/image-x"}
	tcg, kvm := newVMSpec(im, "tcg"), newVMSpec(im, "kvm")
	if tcg.hash() == kvm.hash() || tcg.hash() != newVMSpec(im, "tcg").hash() {
		t.Errorf("spec hashes: tcg %s kvm %s", tcg.hash(), kvm.hash())
	}
	for _, a := range tcg.args {
		if strings.Contains(a, "serial=") && strings.HasPrefix(a, "file=") {
			t.Errorf("serial= on -drive (QEMU 7.2 rejects it): %q", a)
		}
	}
}
