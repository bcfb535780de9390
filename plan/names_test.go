package plan

import "testing"

// Every name zplan writes parses back to its edge (and GUID), and the
// parsers reject the other kinds of names.
func TestNamesRoundTrip(t *testing.T) {
	for _, edge := range []string{"offsite", "a", "edge-with_odd.chars:1"} {
		if got, ok := ParseStepTag(StepTag(edge)); !ok || got != edge {
			t.Errorf("ParseStepTag(StepTag(%q)) = %q, %v", edge, got, ok)
		}
		if got, ok := ParseLastTag(LastTag(edge)); !ok || got != edge {
			t.Errorf("ParseLastTag(LastTag(%q)) = %q, %v", edge, got, ok)
		}
		for _, tag := range []string{StepTag(edge), LastTag(edge)} {
			if got, ok := ParseEdgeTag(tag); !ok || got != edge || !ZplanTag(tag) {
				t.Errorf("ParseEdgeTag(%q) = %q, %v; ZplanTag %v", tag, got, ok, ZplanTag(tag))
			}
		}
		for _, guid := range []uint64{0, 1, 0xdeadbeef, ^uint64(0)} {
			c := CursorName(edge, guid)
			if e, g, ok := ParseCursor(c); !ok || e != edge || g != guid {
				t.Errorf("ParseCursor(%q) = %q, %d, %v", c, e, g, ok)
			}
			if _, ok := ParseEdgeTag(c); ok {
				t.Errorf("ParseEdgeTag accepts cursor %q", c)
			}
		}
		if _, ok := ParseLastTag(StepTag(edge)); ok {
			t.Errorf("ParseLastTag accepts %q", StepTag(edge))
		}
		if _, _, ok := ParseCursor(StepTag(edge)); ok {
			t.Errorf("ParseCursor accepts %q", StepTag(edge))
		}
	}
	for _, bad := range []string{"", "zplan_", "zplan_stepx", "backup-tool", "zplan_cursor_00000000000000zz_e", "zplan_cursor_0000000000000001_", "zplan_cursor_0000000000000001"} {
		if e, ok := ParseEdgeTag(bad); ok {
			t.Errorf("ParseEdgeTag(%q) = %q", bad, e)
		}
		if e, _, ok := ParseCursor(bad); ok {
			t.Errorf("ParseCursor(%q) = %q", bad, e)
		}
	}
}
