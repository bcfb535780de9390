package diff

import (
	"fmt"
	"strings"

	"github.com/zplan/zplan/desired"
	"github.com/zplan/zplan/observe"
	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/zfs"
)

// unsafeNameReason is why retention keeps a snapshot it would destroy
// whose name zfs destroy cannot take (see zfs.DestroySafe).
const unsafeNameReason = "its name holds '%' or ',', which zfs destroy reads as a range or a list: zplan neither destroys nor replicates it"

// unsafeNames reports every snapshot retention or replication would
// manage whose name zfs destroy cannot take: such a name ('%' comes from
// channel programs) is kept and not sent, and the user has to remove it
// by exact name. Reported once per snapshot, as a conflict on its
// dataset; the rest of the dataset is planned as usual.
func unsafeNames(pol *desired.Policy, st *observe.State) []*plan.Conflict {
	var out []*plan.Conflict
	reported := map[string]bool{} // fs@snap
	check := func(host, dataset, prefix string, any bool) {
		ds := datasetOf(st, host, dataset)
		if ds == nil {
			return
		}
		for _, s := range ds.Snapshots {
			if (any || strings.HasPrefix(s.Name, prefix)) && !zfs.DestroySafe(s.Name) {
				full := dataset + "@" + s.Name
				if reported[full] {
					continue
				}
				reported[full] = true
				out = append(out, &plan.Conflict{Kind: plan.ConflictUnsafeName, Host: host, Dataset: dataset,
					Message:    fmt.Sprintf("snapshot @%s: %s", s.Name, unsafeNameReason),
					Resolution: fmt.Sprintf("rename it (zfs rename %q %s@NEWNAME) or destroy it with a channel program; zfs destroy would take a range", full, dataset)})
			}
		}
	}
	for _, r := range pol.Retention {
		check(r.Host, r.Dataset, r.Prefix, r.AdoptForeign)
	}
	for _, e := range pol.Edges {
		check(e.SourceHost, e.SourceDataset, e.Prefix, false)
	}
	return out
}
