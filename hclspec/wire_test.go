package hclspec

import (
	"strings"
	"testing"
)

func TestParseRate(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		err  string // substring; "" for success
	}{
		{"50MiB/s", 50 << 20, ""},
		{"50MiB", 50 << 20, ""},
		{"1.5GiB/s", 3 << 29, ""},
		{" 100 KiB/s ", 100 << 10, ""},
		{"1024B/s", 1024, ""},
		{"10MB/s", 10e6, ""},
		{"2GB/s", 2e9, ""},
		{"1KiB/s", 1024, ""},
		{"1000B/s", 0, "below the minimum"},
		{"0MiB/s", 0, "below the minimum"},
		{"50", 0, "has no unit"},
		{"50mib/s", 0, `unknown unit "mib"`},
		{"50MiB/min", 0, "per second"},
		{"fast", 0, "not a number"},
		{"-5MiB/s", 0, "not a number"},
		{"", 0, "not a number"},
		{"1.2.3MiB", 0, "is not a number"},
		{"99999999999TiB", 0, "too large"},
	} {
		got, err := ParseRate(c.in)
		switch {
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("ParseRate(%q) = %d, %v; want %d", c.in, got, err, c.want)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("ParseRate(%q) = %d, %v; want an error with %q", c.in, got, err, c.err)
		}
	}
}

func TestParseSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"256MiB", 256 << 20, true},
		{"1GiB", 1 << 30, true},
		{"512KB", 512000, true},
		{"8", 0, false},
		{"256MiB/s", 0, false},
	} {
		got, err := ParseSize(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseSize(%q) = %d, %v", c.in, got, err)
		}
	}
}

func TestLoadWire(t *testing.T) {
	base := "source { snapshots = snapshots.s }\ntarget {\n host = host.nas\n root = \"b\"\n}\n"
	cfg, diags := load(t, repl(base+"send {\n bandwidth = \"50MiB/s\"\n buffer = \"256MiB\"\n}"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if w := cfg.Replications[0].Wire; w.Bandwidth != 50<<20 || w.Buffer != 256<<20 {
		t.Fatalf("Wire = %+v", w)
	}
	if o := cfg.Replications[0].SendOptions; !o.LargeBlocks || !o.Compressed {
		t.Fatalf("send flags lost their defaults: %+v", o)
	}
	cfg, diags = load(t, repl(base))
	if diags.HasErrors() || cfg.Replications[0].Wire != (WireOptions{}) {
		t.Fatalf("default Wire = %+v, %v", cfg.Replications[0].Wire, diags)
	}

	// The send block opens on line 18 of the file repl builds.
	for _, c := range []struct {
		name, body, summary, detail string
		line                        int
	}{
		{"no unit", "bandwidth = \"50\"", "Invalid bandwidth", "has no unit", 19},
		{"bad unit", "bandwidth = \"50Mbit/s\"", "Invalid bandwidth", `unknown unit "Mbit"`, 19},
		{"too slow", "bandwidth = \"10B/s\"", "Invalid bandwidth", "minimum of 1KiB/s", 19},
		{"number", "bandwidth = 50", "Invalid bandwidth", "has no unit", 19},
		{"list", "bandwidth = [1]", "Incorrect attribute value type", "must be a string", 19},
		{"small buffer", "large_blocks = true\nbuffer = \"64KiB\"", "Invalid buffer", "outside 1MiB to 16GiB", 20},
		{"huge buffer", "buffer = \"1TiB\"", "Invalid buffer", "outside 1MiB to 16GiB", 19},
		{"rate as buffer", "buffer = \"1MiB/s\"", "Invalid buffer", "unknown unit", 19},
		{"compress", "compress = \"zstd\"", "Stream compression not supported yet", "zstd run on both hosts", 19},
		{"typo", "bandwith = \"1MiB/s\"", "Unsupported argument", `Did you mean "bandwidth"?`, 19},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, diags := load(t, repl(base+"send {\n"+c.body+"\n}"))
			for _, d := range diags {
				if d.Summary != c.summary {
					continue
				}
				if !strings.Contains(d.Detail, c.detail) {
					t.Fatalf("detail %q does not contain %q", d.Detail, c.detail)
				}
				if d.Subject == nil || d.Subject.Start.Line != c.line || !strings.HasSuffix(d.Subject.Filename, "main.hcl") {
					t.Fatalf("subject %v, want main.hcl line %d", d.Subject, c.line)
				}
				return
			}
			t.Fatalf("no diagnostic %q among:\n%v", c.summary, diags)
		})
	}
}
