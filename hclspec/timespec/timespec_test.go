package timespec

import (
	"strings"
	"testing"
	"time"
)

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestCronPrevMatchesBruteForce checks prev and next against a minute by
// minute scan over a span that crosses month, year and leap-day edges.
func TestCronPrevMatchesBruteForce(t *testing.T) {
	exprs := []string{"*/7 3-5 * * *", "0 0 1,15 * *", "59 23 * * sun", "0 12 29 2 *", "13 */5 10-20 */2 1-5", "0 0 31 * *"}
	for _, e := range exprs {
		c, err := ParseCron(e)
		if err != nil {
			t.Fatalf("%s: %v", e, err)
		}
		matches := func(t time.Time) bool {
			return bit(c.minute, t.Minute()) && bit(c.hour, t.Hour()) && bit(c.month, int(t.Month())) && c.dayMatches(t)
		}
		for _, w := range [][2]string{{"2027-12-27T00:00:00Z", "2028-01-03T00:00:00Z"}, {"2028-02-26T00:00:00Z", "2028-03-02T00:00:00Z"}} {
			start, end := ts(w[0]), ts(w[1])
			last := c.Prev(start.Add(-time.Minute))
			for m := start; m.Before(end); m = m.Add(time.Minute) {
				if matches(m) {
					if got := c.Next(m.Add(-time.Minute)); !got.Equal(m) {
						t.Fatalf("%s: next(%s) = %s, want %s", e, m.Add(-time.Minute), got, m)
					}
					last = m
				}
				if got := c.Prev(m); !got.Equal(last) {
					t.Fatalf("%s: prev(%s) = %s, want %s", e, m, got, last)
				}
			}
		}
	}
}

func TestParseGridCanonical(t *testing.T) {
	g, err := ParseGrid(" 1 x 1h ( keep = all ) |24x1h| 14x1d(keep=1) | 2x1w(keep=3) | 90x30s")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, iv := range g {
		got = append(got, iv.Text)
	}
	want := "1x1h(keep=all) 24x1h 14x1d 2x1w(keep=3) 90x30s"
	if strings.Join(got, " ") != want {
		t.Fatalf("got %q, want %q", strings.Join(got, " "), want)
	}
	if g[3].Length != 7*24*time.Hour || g[3].Keep != 3 || g[0].Keep != KeepAll {
		t.Fatalf("bad parse: %+v", g)
	}
}

func TestParseDuration(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"15m", 15 * time.Minute, ""},
		{"1d", 24 * time.Hour, ""},
		{"2w", 14 * 24 * time.Hour, ""},
		{"90s", 90 * time.Second, ""},
		{"1h30m", 90 * time.Minute, ""},
		{" 6h ", 6 * time.Hour, ""},
		{"", 0, "empty"},
		{"1y", 0, "units"},
		{"d", 0, "units"},
		{"-1d", 0, "units"},
		{"99999999999d", 0, "too long"},
	}
	for _, tc := range cases {
		got, err := ParseDuration(tc.in)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseDuration(%q) error = %v, want one containing %q", tc.in, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseGridErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{"24x1h | 7xd", `grid part 2 "7xd"`},
		{"1x1h(keep=0)", "keep must be a positive integer or all"},
		{"1000x1000w", "more than 200 years"},
		{"1x99999999999999w", "more than 200 years"},
		{"100x1w | 100x1w | 10400x1w", `grid part 3 "10400x1w": the grid would span more than 200 years`},
		{"", `grid part 1 ""`},
	}
	for _, tc := range cases {
		if _, err := ParseGrid(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseGrid(%q) = %v, want error containing %q", tc.in, err, tc.want)
		}
	}
}
