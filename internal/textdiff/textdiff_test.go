package textdiff

import (
	"strings"
	"testing"
)

func TestUnified(t *testing.T) {
	cases := []struct {
		name string
		a, b string
		want string
	}{
		{"equal", "a\nb\n", "a\nb\n", "--- f\n+++ f\n"},
		{"both empty", "", "", "--- f\n+++ f\n"},
		{"change in middle", "1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nX\n6\n7\n8\n9\n",
			"--- f\n+++ f\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+X\n 6\n 7\n 8\n"},
		{"insert at start", "b\n", "a\nb\n", "--- f\n+++ f\n@@ -1 +1,2 @@\n+a\n b\n"},
		{"insert into empty", "", "a\n", "--- f\n+++ f\n@@ -0,0 +1 @@\n+a\n"},
		{"delete all", "a\n", "", "--- f\n+++ f\n@@ -1 +0,0 @@\n-a\n"},
		{"missing final newline is no change", "a\nb", "a\nb\n", "--- f\n+++ f\n"},
		{"two hunks", "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n", "X\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\nY\n",
			"--- f\n+++ f\n@@ -1,4 +1,4 @@\n-1\n+X\n 2\n 3\n 4\n@@ -9,4 +9,4 @@\n 9\n 10\n 11\n-12\n+Y\n"},
		{"close edits share a hunk", "1\n2\n3\n4\n5\n6\n7\n8\n", "X\n2\n3\n4\n5\n6\n7\nY\n",
			"--- f\n+++ f\n@@ -1,8 +1,8 @@\n-1\n+X\n 2\n 3\n 4\n 5\n 6\n 7\n-8\n+Y\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Unified("f", []byte(tc.a), []byte(tc.b), Style{}); got != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestUnifiedStyle(t *testing.T) {
	st := Style{Deleted: func(s string) string { return "<" + s + ">" }, Inserted: func(s string) string { return "[" + s + "]" }}
	got := Unified("f", []byte("a\nb\n"), []byte("a\nc\n"), st)
	if want := "--- f\n+++ f\n@@ -1,2 +1,2 @@\n a\n<-b>\n[+c]\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// Above the LCS size limit the whole file is replaced, in order.
func TestLinesTooLarge(t *testing.T) {
	x := strings.Split(strings.Repeat("x\n", 5000), "\n")
	y := strings.Split(strings.Repeat("y\n", 5000), "\n")
	ops := Lines(x, y)
	if len(ops) != len(x)+len(y) || ops[0].Kind != '-' || ops[len(ops)-1].Kind != '+' {
		t.Fatalf("%d ops, first %q last %q", len(ops), ops[0].Kind, ops[len(ops)-1].Kind)
	}
}
