// Package textdiff computes line diffs of small text files and writes
// them as unified diffs (zplan fmt -diff).
package textdiff

import (
	"fmt"
	"strings"
)

// Op is one line of an edit script: kept (' '), deleted ('-') or
// inserted ('+').
type Op struct {
	Kind   byte // ' ', '-', '+'
	Text   string
	AI, BI int // line index in a and b where this op sits
}

// Style decorates the lines of a unified diff (colour on a terminal).
// A nil func leaves the line as it is.
type Style struct {
	Deleted, Inserted func(string) string
}

// maxCells bounds the quadratic LCS table; above it the whole file is
// shown as replaced.
const maxCells = 16 << 20

// context is how many unchanged lines surround each hunk.
const context = 3

// Unified returns a unified diff (3 lines of context) from a to b, both
// named name. Configuration files are small, so a quadratic LCS is fine;
// above a size limit the whole file is shown as replaced.
func Unified(name string, a, b []byte, st Style) string {
	ops := Lines(SplitLines(a), SplitLines(b))
	var sb strings.Builder
	fmt.Fprintf(&sb, "--- %s\n+++ %s\n", name, name)
	// Group edits into hunks with up to context lines around them.
	for i := 0; i < len(ops); {
		if ops[i].Kind == ' ' {
			i++
			continue
		}
		start := max(i-context, 0)
		end := i
		for end < len(ops) {
			if ops[end].Kind != ' ' {
				end++
				continue
			}
			run := end
			for run < len(ops) && ops[run].Kind == ' ' {
				run++
			}
			if run == len(ops) || run-end > 2*context {
				end = min(end+context, len(ops))
				break
			}
			end = run
		}
		h := ops[start:end]
		ax, by := h[0].AI, h[0].BI
		var na, nb int
		for _, o := range h {
			if o.Kind != '+' {
				na++
			}
			if o.Kind != '-' {
				nb++
			}
		}
		fmt.Fprintf(&sb, "@@ -%s +%s @@\n", hunkRange(ax, na), hunkRange(by, nb))
		for _, o := range h {
			var line string
			switch o.Kind {
			case '-':
				line = apply(st.Deleted, "-"+o.Text)
			case '+':
				line = apply(st.Inserted, "+"+o.Text)
			default:
				line = " " + o.Text
			}
			sb.WriteString(line)
			sb.WriteByte('\n')
		}
		i = end
	}
	return sb.String()
}

func apply(f func(string) string, s string) string {
	if f == nil {
		return s
	}
	return f(s)
}

func hunkRange(start, n int) string {
	if n == 0 {
		return fmt.Sprintf("%d,0", start)
	}
	if n == 1 {
		return fmt.Sprintf("%d", start+1)
	}
	return fmt.Sprintf("%d,%d", start+1, n)
}

// SplitLines splits b into lines without their newlines; a final newline
// does not start another line.
func SplitLines(b []byte) []string {
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// Lines is a shortest edit script from x to y (a longest common
// subsequence kept, deletions before insertions).
func Lines(x, y []string) []Op {
	n, m := len(x), len(y)
	var ops []Op
	if n*m > maxCells {
		for i, l := range x {
			ops = append(ops, Op{'-', l, i, 0})
		}
		for j, l := range y {
			ops = append(ops, Op{'+', l, n, j})
		}
		return ops
	}
	// lcs[i][j] is the LCS length of x[i:] and y[j:].
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && x[i] == y[j]:
			ops = append(ops, Op{' ', x[i], i, j})
			i++
			j++
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, Op{'-', x[i], i, j})
			i++
		default:
			ops = append(ops, Op{'+', y[j], i, j})
			j++
		}
	}
	return ops
}
