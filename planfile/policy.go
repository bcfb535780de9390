package planfile

import (
	"fmt"
	"strings"

	"github.com/zplan/zplan/desired"
	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/observe"
	"github.com/zplan/zplan/plan"
)

// PolicyFor resolves the configuration against the datasets the plan
// names, without asking any host: the policy a plan of cfg could have
// been made with, whatever the hosts held then. The datasets are only a
// universe for the configuration's selectors (include, exclude, target
// mapping) to choose from, so naming a dataset in a plan never makes it
// managed; it has to match the configuration.
func PolicyFor(cfg *hclspec.Config, p *plan.Plan) (*desired.Policy, error) {
	st := &observe.State{Hosts: map[string]*observe.Host{}}
	for _, h := range cfg.Hosts {
		st.Hosts[h.Name] = &observe.Host{Name: h.Name, Datasets: map[string]*observe.Dataset{}}
	}
	add := func(host, ds string) {
		h := st.Hosts[host]
		if h == nil || ds == "" {
			return // not a declared host: Validate refuses the action
		}
		// Ancestors too: a NAME/** selector chooses nothing unless NAME exists.
		for {
			if h.Datasets[ds] == nil {
				h.Datasets[ds] = &observe.Dataset{Name: ds}
			}
			i := strings.LastIndex(ds, "/")
			if i < 0 {
				return
			}
			ds = ds[:i]
		}
	}
	for _, a := range p.Actions {
		if a == nil {
			continue
		}
		add(a.Host, a.Dataset)
		for _, d := range a.Datasets {
			add(a.Host, d)
		}
		if s := a.Send; s != nil {
			add(s.SourceHost, s.SourceDataset)
			add(s.TargetHost, s.TargetDataset)
		}
		for _, pc := range a.Preconditions {
			ds, _, _ := strings.Cut(pc.Object, "@")
			ds, _, _ = strings.Cut(ds, "#")
			add(pc.Host, ds)
		}
	}
	// An action on a target alone (a hold, a rollback) names no source
	// dataset: add the sources that would map onto each target dataset.
	policies := map[string]*hclspec.SnapshotPolicy{}
	for _, sp := range cfg.Snapshots {
		policies[sp.Name] = sp
	}
	for _, r := range cfg.Replications {
		th := st.Hosts[r.TargetHost]
		if th == nil {
			continue
		}
		host, sel := r.SourceHost, r.SourceDatasets
		if sp := policies[r.SnapshotsPolicy]; sp != nil {
			host, sel = sp.Host, sp.Datasets
		}
		var strips []string
		if r.StripPrefix != "" {
			strips = []string{r.StripPrefix}
		} else {
			for _, pat := range sel.Include {
				strips = append(strips, poolOf(strings.TrimSuffix(pat, "/**")))
			}
		}
		var targets []string
		for name := range th.Datasets {
			targets = append(targets, name)
		}
		for _, name := range targets {
			rest, ok := strings.CutPrefix(name, r.TargetRoot)
			if !ok || (rest != "" && rest[0] != '/') {
				continue
			}
			for _, strip := range strips {
				add(host, strip+rest)
			}
			if rest != "" {
				add(host, rest[1:]) // a source outside the strip prefix keeps its whole name
			}
		}
	}
	pol, err := desired.Resolve(cfg, st)
	if err != nil {
		return nil, fmt.Errorf("resolving the configuration for the saved plan: %w", err)
	}
	return pol, nil
}
