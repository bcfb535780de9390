package desired

import (
	"reflect"
	"testing"

	"github.com/zplan/zplan/hclspec"
)

// TestRetentionKeepers checks that each snapshot retention lets go names
// the snapshots that make it redundant (the planner asserts them before
// destroying), and that kept snapshots name none.
func TestRetentionKeepers(t *testing.T) {
	snaps := []Snap{at("09:10"), at("09:20"), at("10:10"), at("10:20"), at("10:30"), at("11:10"), at("11:50")}
	cases := []struct {
		name string
		ret  hclspec.Retention
		// want maps a snapshot's index to its keepers' names (bucket
		// keepers, then the window); nil: the snapshot is kept.
		want map[int]*[2][]string
	}{
		{
			name: "grid bucket keeper",
			ret:  hclspec.Retention{Grid: "4x1h"},
			// 09:00-10:00 keeps 09:10, 10:00-11:00 keeps 10:10; 11:00-12:00 keeps 11:10.
			want: map[int]*[2][]string{
				1: &[2][]string{{at("09:10").Name}, nil},
				3: &[2][]string{{at("10:10").Name}, nil},
				4: &[2][]string{{at("10:10").Name}, nil},
				6: nil, // newest: kept
			},
		},
		{
			name: "keep_last window, newest first",
			ret:  hclspec.Retention{KeepLast: 2},
			want: map[int]*[2][]string{
				0: &[2][]string{nil, {at("11:50").Name, at("11:10").Name}},
				4: &[2][]string{nil, {at("11:50").Name, at("11:10").Name}},
			},
		},
		{
			name: "grid and keep_last together",
			ret:  hclspec.Retention{Grid: "4x1h(keep=2)", KeepLast: 1},
			want: map[int]*[2][]string{
				4: &[2][]string{{at("10:10").Name, at("10:20").Name}, {at("11:50").Name}},
			},
		},
		{
			name: "older than the grid: only the window",
			ret:  hclspec.Retention{Grid: "1x1h", KeepLast: 1},
			want: map[int]*[2][]string{
				0: &[2][]string{nil, {at("11:50").Name}},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := CompileRetention(&tc.ret)
			if err != nil {
				t.Fatal(err)
			}
			v := r.Decide(snaps, retNow, false)
			for i, w := range v {
				if w.Keep && w.Keepers != nil {
					t.Errorf("kept %s has keepers", snaps[i].Name)
				}
				if !w.Keep && w.Keepers == nil {
					t.Errorf("dropped %s names no keepers", snaps[i].Name)
				}
			}
			for i, want := range tc.want {
				if want == nil {
					if !v[i].Keep {
						t.Errorf("%s dropped, want kept", snaps[i].Name)
					}
					continue
				}
				if v[i].Keep {
					t.Fatalf("%s kept (%s), want dropped", snaps[i].Name, v[i].Reason)
				}
				var got [2][]string
				for _, j := range v[i].Keepers.Bucket {
					got[0] = append(got[0], snaps[j].Name)
				}
				for _, j := range v[i].Keepers.Window {
					got[1] = append(got[1], snaps[j].Name)
				}
				if !reflect.DeepEqual(got, *want) {
					t.Errorf("keepers of %s = %v, want %v", snaps[i].Name, got, want)
				}
			}
		})
	}
}
