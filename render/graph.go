package render

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/zplan/zplan/desired"
	"github.com/zplan/zplan/drift"
	"github.com/zplan/zplan/plan"
)

// fleet is what zplan graph draws: hosts with their datasets, snapshot
// policies and replication edges, from the policy and a drift report.
type fleet struct {
	hosts    []string
	datasets map[string][]*gNode // by host, sorted by name
	policies []*gPolicy
	links    []*gLink
}

type gNode struct {
	id, host, name, note string
}

type gPolicy struct {
	id, label string
	datasets  []*gNode
}

type gLink struct {
	from, to *gNode
	label    string
	blocked  bool
}

func buildFleet(pol *desired.Policy, r *drift.Report) *fleet {
	f := &fleet{datasets: map[string][]*gNode{}}
	nodes := map[string]*gNode{}
	node := func(host, ds string) *gNode {
		k := host + "\x00" + ds
		if n := nodes[k]; n != nil {
			return n
		}
		n := &gNode{host: host, name: ds}
		nodes[k] = n
		if len(f.datasets[host]) == 0 {
			f.hosts = append(f.hosts, host)
		}
		f.datasets[host] = append(f.datasets[host], n)
		return n
	}
	for _, s := range pol.Snapshots {
		node(s.Host, s.Dataset)
	}
	for _, e := range pol.Edges {
		node(e.SourceHost, e.SourceDataset)
		node(e.TargetHost, e.TargetDataset)
	}
	slices.Sort(f.hosts)
	i := 0
	for _, h := range f.hosts {
		slices.SortFunc(f.datasets[h], func(a, b *gNode) int { return strings.Compare(a.name, b.name) })
		for _, n := range f.datasets[h] {
			n.id = fmt.Sprintf("d%d", i)
			i++
		}
	}
	now := time.Time{}
	if r != nil {
		now = r.Time
		for _, d := range r.Datasets {
			n := nodes[d.Host+"\x00"+d.Dataset]
			switch {
			case n == nil:
			case d.Newest.IsZero():
				n.note = "no snapshot yet"
			case d.Overdue:
				n.note = "OVERDUE: newest " + graphAge(now.Sub(d.Newest)) + " old"
			default:
				n.note = "newest " + graphAge(now.Sub(d.Newest)) + " old"
			}
		}
	}
	byName := map[string]*gPolicy{}
	for _, s := range pol.Snapshots {
		p := byName[s.Policy]
		if p == nil {
			p = &gPolicy{label: "snapshots." + s.Policy}
			if s.Schedule != nil {
				p.label += "\n" + s.Schedule.String()
			}
			byName[s.Policy] = p
			f.policies = append(f.policies, p)
		}
		if n := nodes[s.Host+"\x00"+s.Dataset]; !slices.Contains(p.datasets, n) {
			p.datasets = append(p.datasets, n)
		}
	}
	slices.SortFunc(f.policies, func(a, b *gPolicy) int { return strings.Compare(a.label, b.label) })
	for i, p := range f.policies {
		p.id = fmt.Sprintf("p%d", i)
		slices.SortFunc(p.datasets, func(a, b *gNode) int { return strings.Compare(a.id, b.id) })
	}
	status := map[string]drift.EdgeStatus{}
	kinds := map[string][]string{} // edge key -> conflict kinds
	key := func(id, th, td string) string { return id + "\x00" + th + "\x00" + td }
	if r != nil {
		for _, s := range r.Edges {
			status[key(s.Edge, s.TargetHost, s.TargetDataset)] = s
		}
		for _, e := range pol.Edges {
			for _, fd := range r.Findings {
				if fd.Kind == drift.Conflict && fd.Edge == e.ID && (fd.Host == e.TargetHost && fd.Dataset == e.TargetDataset ||
					fd.Host == e.SourceHost && fd.Dataset == e.SourceDataset) {
					k := key(e.ID, e.TargetHost, e.TargetDataset)
					kinds[k] = append(kinds[k], string(fd.ConflictKind))
				}
			}
		}
	}
	for _, e := range pol.Edges {
		l := &gLink{from: nodes[e.SourceHost+"\x00"+e.SourceDataset], to: nodes[e.TargetHost+"\x00"+e.TargetDataset]}
		k := key(e.ID, e.TargetHost, e.TargetDataset)
		s, ok := status[k]
		parts := []string{"replication." + e.Name}
		switch {
		case r == nil || !ok:
			parts = append(parts, "not observed")
		case s.InSync && s.Blocked:
			parts = append(parts, "has the newest snapshot")
		case s.InSync:
			parts = append(parts, "in sync")
		case s.LagKnown:
			parts = append(parts, fmt.Sprintf("lag %s, %d behind", graphAge(s.Lag), s.Behind))
			if s.UnsentBytes > 0 {
				parts[len(parts)-1] += ", ~" + plan.HumanBytes(s.UnsentBytes)
			}
		}
		if ok && s.Blocked {
			l.blocked = true
			ks := kinds[k]
			slices.Sort(ks)
			ks = slices.Compact(ks)
			if len(ks) == 0 {
				ks = []string{"no common snapshot"}
			}
			parts = append(parts, "BLOCKED: "+strings.Join(ks, ", "))
		}
		l.label = strings.Join(parts, "\n")
		f.links = append(f.links, l)
	}
	slices.SortStableFunc(f.links, func(a, b *gLink) int {
		if c := strings.Compare(a.from.id, b.from.id); c != 0 {
			return c
		}
		return strings.Compare(a.to.id, b.to.id)
	})
	return f
}

func graphAge(d time.Duration) string {
	d = d.Round(time.Minute)
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
	case d >= time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dm", int(d.Minutes()))
}

func (n *gNode) label() string {
	if n.note == "" {
		return n.name
	}
	return n.name + "\n" + n.note
}

// mermaidText quotes s for a Mermaid label: quotes become #quot; and
// newlines <br/>.
func mermaidText(s string) string {
	s = strings.NewReplacer(`"`, "#quot;", "<", "#lt;", ">", "#gt;").Replace(s)
	return `"` + strings.ReplaceAll(s, "\n", "<br/>") + `"`
}

// GraphMermaid draws the fleet as a Mermaid flowchart: a subgraph per
// host with its datasets, a node per snapshots policy with dotted links
// to its datasets, and a link per replication edge labelled with its
// state (in sync, lag and snapshots behind, BLOCKED and the conflict
// kinds; blocked links are red). r may be nil (configuration only).
func GraphMermaid(w io.Writer, pol *desired.Policy, r *drift.Report) error {
	f := buildFleet(pol, r)
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	for i, h := range f.hosts {
		fmt.Fprintf(&b, "  subgraph h%d[%s]\n", i, mermaidText("host "+h))
		for _, n := range f.datasets[h] {
			fmt.Fprintf(&b, "    %s[%s]\n", n.id, mermaidText(n.label()))
		}
		b.WriteString("  end\n")
	}
	for _, p := range f.policies {
		fmt.Fprintf(&b, "  %s([%s])\n", p.id, mermaidText(p.label))
	}
	link := 0
	for _, p := range f.policies {
		for _, n := range p.datasets {
			fmt.Fprintf(&b, "  %s -.- %s\n", p.id, n.id)
			link++
		}
	}
	var red []string
	for _, l := range f.links {
		fmt.Fprintf(&b, "  %s -->|%s| %s\n", l.from.id, mermaidText(l.label), l.to.id)
		if l.blocked {
			red = append(red, fmt.Sprint(link))
		}
		link++
	}
	if len(red) > 0 {
		fmt.Fprintf(&b, "  linkStyle %s stroke:#dd0000,stroke-width:2px,color:#dd0000\n", strings.Join(red, ","))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// dotText quotes s as a DOT string; newlines become centred line breaks.
func dotText(s string) string {
	s = strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
	return `"` + strings.ReplaceAll(s, "\n", `\n`) + `"`
}

// GraphDOT draws the same picture as GraphMermaid in Graphviz DOT: a
// cluster per host, box nodes for datasets, ellipses for policies.
func GraphDOT(w io.Writer, pol *desired.Policy, r *drift.Report) error {
	f := buildFleet(pol, r)
	var b strings.Builder
	b.WriteString("digraph zplan {\n  rankdir=LR;\n  graph [fontname=\"Helvetica\"];\n  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9];\n")
	for i, h := range f.hosts {
		fmt.Fprintf(&b, "  subgraph cluster_h%d {\n    label=%s;\n    style=rounded;\n", i, dotText("host "+h))
		for _, n := range f.datasets[h] {
			attrs := ""
			if strings.HasPrefix(n.note, "OVERDUE") {
				attrs = ", color=\"#dd0000\", fontcolor=\"#dd0000\""
			}
			fmt.Fprintf(&b, "    %s [shape=box, label=%s%s];\n", n.id, dotText(n.label()), attrs)
		}
		b.WriteString("  }\n")
	}
	for _, p := range f.policies {
		fmt.Fprintf(&b, "  %s [shape=ellipse, style=filled, fillcolor=\"#eeeeff\", label=%s];\n", p.id, dotText(p.label))
	}
	for _, p := range f.policies {
		for _, n := range p.datasets {
			fmt.Fprintf(&b, "  %s -> %s [style=dashed, arrowhead=none];\n", p.id, n.id)
		}
	}
	for _, l := range f.links {
		attrs := ""
		if l.blocked {
			attrs = ", color=\"#dd0000\", fontcolor=\"#dd0000\", penwidth=2"
		}
		fmt.Fprintf(&b, "  %s -> %s [label=%s%s];\n", l.from.id, l.to.id, dotText(l.label), attrs)
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// maxGraphBlock is the largest Mermaid graph a Markdown report embeds;
// a larger fleet gets a note instead (the report stays under its limit).
const maxGraphBlock = 20000

// GraphMarkdownBlock writes the fleet's Mermaid graph as a collapsed
// block for the end of a Markdown plan or drift report.
func GraphMarkdownBlock(w io.Writer, pol *desired.Policy, r *drift.Report) error {
	var g strings.Builder
	if err := GraphMermaid(&g, pol, r); err != nil {
		return err
	}
	body := "```mermaid\n" + g.String() + "```\n"
	if g.Len() > maxGraphBlock {
		body = fmt.Sprintf("The graph is %d characters, too large for this comment; `zplan graph` draws it.\n", g.Len())
	}
	_, err := fmt.Fprintf(w, "\n<details><summary>Fleet graph</summary>\n\n%s\n</details>\n", body)
	return err
}
