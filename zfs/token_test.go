package zfs_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/zplan/zplan/zfs"
)

// printedToken reads what `zfs send -nv -t TOKEN` prints (nvlist_print:
// "\tname = value" lines) into a ResumeToken, for comparing zplan's
// decoder with zfs's own. Every line of the dump must be a field it
// knows, so a field the decoder ignores cannot go unnoticed.
func printedToken(out string) (zfs.ResumeToken, error) {
	var t zfs.ResumeToken
	sc := bufio.NewScanner(strings.NewReader(out))
	in := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "resume token contents:" || line == "nvlist version: 0":
			in = true
			continue
		case !in || !strings.HasPrefix(line, "\t"):
			in = false
			continue
		}
		k, v, ok := strings.Cut(line[1:], " = ")
		if !ok {
			return t, fmt.Errorf("line %q of the dump is not name = value", line)
		}
		num := func(p *uint64) (err error) { *p, err = strconv.ParseUint(v, 0, 64); return }
		flag := func(p *bool) error {
			if v != "1" {
				return fmt.Errorf("boolean %s = %q", k, v)
			}
			*p = true
			return nil
		}
		var err error
		switch k {
		case "fromguid":
			err = num(&t.FromGUID)
		case "toguid":
			err = num(&t.ToGUID)
		case "bytes":
			err = num(&t.Bytes)
		case "object":
			err = num(&t.Object)
		case "offset":
			err = num(&t.Offset)
		case "toname":
			t.ToName = v
		case "rawok":
			err = flag(&t.Raw)
		case "largeblockok":
			err = flag(&t.LargeBlocks)
		case "embedok":
			err = flag(&t.Embedded)
		case "compressok":
			err = flag(&t.Compressed)
		case "redact_snaps", "book_redact_snaps":
			t.Redacted = true
		default:
			err = fmt.Errorf("unknown field")
		}
		if err != nil {
			return t, fmt.Errorf("dump line %q: %w", line, err)
		}
	}
	if t.ToGUID == 0 || t.ToName == "" {
		return t, fmt.Errorf("no toguid/toname in the dump %q", out)
	}
	return t, nil
}

type realToken struct {
	name, pool, token, printed string
}

// realTokens are tokens real OpenZFS 2.3 left in the lab
// (TestRealResumeTokensDecodedByZplan with ZPLAN_CAPTURE_TOKENS=1), with
// what zfs send -nvt printed for each.
func realTokens(t testing.TB) []realToken {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "tokens", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var out []realToken
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		poolLine, rest, _ := strings.Cut(string(b), "\n")
		tokLine, printed, _ := strings.Cut(rest, "\n")
		pool, ok1 := strings.CutPrefix(poolLine, "pool ")
		tok, ok2 := strings.CutPrefix(tokLine, "token ")
		if !ok1 || !ok2 {
			t.Fatalf("%s: want a pool line and a token line first", f)
		}
		out = append(out, realToken{strings.TrimSuffix(filepath.Base(f), ".txt"), pool, tok, strings.ReplaceAll(printed, "POOL", pool)})
	}
	return out
}

func TestDecodeRealTokens(t *testing.T) {
	toks := realTokens(t)
	kinds := map[string]bool{}
	for _, rt := range toks {
		t.Run(rt.name, func(t *testing.T) {
			got, err := zfs.DecodeResumeToken(rt.token)
			if err != nil {
				t.Fatal(err)
			}
			want, err := printedToken(rt.printed)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("decoded\n %+v\nzfs printed\n %+v", got, want)
			}
			kinds[fmt.Sprintf("incremental=%v raw=%v", got.FromGUID != 0, got.Raw)] = true
		})
	}
	if len(kinds) != 4 {
		t.Errorf("the real tokens cover %v; want full and incremental, raw and not", kinds)
	}
}

// Every rewrite of a real token's text that libzfs would read otherwise,
// or not at all, is refused: zplan accepts only the canonical form.
func TestDecodeResumeTokenRefusesTextVariants(t *testing.T) {
	toks := realTokens(t)
	if len(toks) == 0 {
		t.Fatal("no real tokens in testdata/tokens")
	}
	tok := toks[0].token
	f := strings.Split(tok, "-")
	hexPayload := f[3]
	flip := func(s string, i int) string {
		c := byte('0')
		if s[i] == '0' {
			c = '1'
		}
		return s[:i] + string(c) + s[i+1:]
	}
	for _, tc := range []struct{ name, tok, want string }{
		{"empty", "", "4 dash-separated fields"},
		{"three fields", strings.Join(f[:3], "-"), "4 dash-separated fields"},
		{"five fields", tok + "-00", "4 dash-separated fields"},
		{"version 2", "2-" + strings.Join(f[1:], "-"), "version"},
		{"version 01", "01-" + strings.Join(f[1:], "-"), "version"},
		{"checksum with 0x", f[0] + "-0x" + f[1] + "-" + f[2] + "-" + f[3], "checksum"},
		{"checksum with leading zero", f[0] + "-0" + f[1] + "-" + f[2] + "-" + f[3], "checksum"},
		{"uppercase checksum", f[0] + "-" + strings.ToUpper(f[1]) + "-" + f[2] + "-" + f[3], "checksum"},
		{"length with leading zero", f[0] + "-" + f[1] + "-0" + f[2] + "-" + f[3], "length"},
		{"negative length", f[0] + "-" + f[1] + "--" + f[2] + "-" + f[3], "4 dash-separated fields"},
		{"uppercase payload", f[0] + "-" + f[1] + "-" + f[2] + "-" + strings.ToUpper(hexPayload), "lowercase hex"},
		{"odd payload", tok + "0", "even number"},
		{"payload with a space", tok[:len(tok)-2] + " 0", "lowercase hex"},
		{"empty payload", f[0] + "-" + f[1] + "-" + f[2] + "-", "even number"},
		{"flipped payload digit", f[0] + "-" + f[1] + "-" + f[2] + "-" + flip(hexPayload, len(hexPayload)/2), "checksum"},
		{"flipped checksum digit", f[0] + "-" + flip(f[1], len(f[1])-1) + "-" + f[2] + "-" + f[3], "checksum"},
		{"declared length one more", f[0] + "-" + f[1] + "-" + plus(t, f[2], 1) + "-" + f[3], "declared"},
		{"declared length one less", f[0] + "-" + f[1] + "-" + plus(t, f[2], -1) + "-" + f[3], "more than the declared"},
		{"declared length 2 MiB", f[0] + "-" + f[1] + "-200000-" + f[3], "outside"},
		{"declared length 0", f[0] + "-" + f[1] + "-0-" + f[3], "outside"},
		{"huge token", "1-0-10-" + strings.Repeat("00", 1<<21), "more than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := zfs.DecodeResumeToken(tc.tok)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("DecodeResumeToken: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func plus(t *testing.T, h string, d int64) string {
	v, err := strconv.ParseInt(h, 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	return strconv.FormatInt(v+d, 16)
}

func TestEncodeResumeTokenRoundTrips(t *testing.T) {
	for _, want := range []zfs.ResumeToken{
		{ToGUID: 1, ToName: "p/a@s", Object: 1},
		{FromGUID: 0xffffffffffffffff, ToGUID: 0x8000000000000000, ToName: "tank/a b:c.d_e-f@zplan_20261122T120000Z", Bytes: 1 << 40, Object: 7, Offset: 1 << 17,
			Raw: true, LargeBlocks: true, Embedded: true, Compressed: true},
		{ToGUID: 42, ToName: strings.Repeat("x", 200) + "@" + strings.Repeat("y", 54), Redacted: true},
	} {
		tok, err := zfs.EncodeResumeToken(want)
		if err != nil {
			t.Fatal(err)
		}
		got, err := zfs.DecodeResumeToken(tok)
		if err != nil || got != want {
			t.Errorf("round trip of %+v: %+v, %v", want, got, err)
		}
	}
	if _, err := zfs.EncodeResumeToken(zfs.ResumeToken{ToGUID: 1, ToName: "a@b\x00c"}); err == nil {
		t.Error("a NUL in the name must not encode")
	}
}

// The decoder must never panic nor accept a token whose re-encoding
// decodes differently: what it accepts, it reads completely.
func FuzzDecodeResumeToken(f *testing.F) {
	for _, rt := range realTokens(f) {
		f.Add(rt.token)
	}
	for _, s := range []string{"", "1-0-0-", "1-1-10-789c", "1-abc-def-0123"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		got, err := zfs.DecodeResumeToken(tok)
		if err != nil {
			return
		}
		re, err := zfs.EncodeResumeToken(got)
		if err != nil {
			t.Fatalf("accepted %+v, which does not re-encode: %v", got, err)
		}
		again, err := zfs.DecodeResumeToken(re)
		if err != nil || again != got {
			t.Fatalf("accepted %+v; its re-encoding decodes to %+v, %v", got, again, err)
		}
	})
}
