package render

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/zplan/zplan/drift"
	"github.com/zplan/zplan/plan"
)

// MarkdownLimit keeps a comment below the 65,536 characters GitHub
// accepts in a PR comment, with room for what a pipeline adds around it.
const MarkdownLimit = 60000

// Markdown writes the plan for a PR comment: a summary line, a warning
// banner when snapshots will be destroyed (or partial receives
// discarded), a table per host with a row per dataset, conflicts, and
// the full human plan in a <details> block, cut in the middle if the
// comment would exceed MarkdownLimit characters.
func Markdown(w io.Writer, p *plan.Plan) error {
	var head bytes.Buffer
	s := p.Summarize()
	if p.Empty() && len(p.Conflicts) == 0 {
		fmt.Fprintf(&head, "### zplan: no changes\n\nThe hosts match the configuration (plan time %s).\n", p.Time.Format("2006-01-02T15:04:05Z"))
		mdOrphans(&head, p)
		_, err := w.Write(head.Bytes())
		return err
	}
	fmt.Fprintf(&head, "### zplan plan: %d to create, %d to send (%s), %d to destroy\n\n", s.Create, s.Send, plan.HumanBytes(s.SendBytes), s.Destroy)
	fmt.Fprintf(&head, "Plan time `%s`, zplan %s, config `%.12s`.\n\n", p.Time.Format("2006-01-02T15:04:05Z"), p.ZplanVersion, p.ConfigHash)
	if len(p.Targets) > 0 {
		fmt.Fprintf(&head, "> [!CAUTION]\n> **Partial plan** (`-target %s`): only these and what they depend on are planned.\n\n", strings.Join(p.Targets, "`, `-target "))
	}
	if banner := destroyBanner(p); banner != "" {
		head.WriteString(banner)
	}
	type row struct{ create, send, destroy, other int }
	rows := map[string]map[string]*row{}
	get := func(h, d string) *row {
		if rows[h] == nil {
			rows[h] = map[string]*row{}
		}
		if rows[h][d] == nil {
			rows[h][d] = &row{}
		}
		return rows[h][d]
	}
	// A row per dataset, its columns the kinds table's classes: what a
	// send adds counts on its target, what destroys snapshots in Destroy.
	for _, a := range p.Actions {
		info, _ := a.Kind.Info()
		switch {
		case info.Class == plan.ClassCreate && a.Kind == plan.KindSnapshot:
			for _, d := range a.Datasets {
				get(a.Host, d).create++
			}
		case info.Class == plan.ClassCreate:
			get(a.Host, a.Dataset).create++
		case info.Class == plan.ClassSend && a.Send != nil:
			get(a.Send.TargetHost, a.Send.TargetDataset).send++
		case info.DestroysSnapshots:
			get(a.Host, a.Dataset).destroy += len(a.Snapshots)
		default:
			get(a.Host, a.Dataset).other++
		}
	}
	for _, h := range sortedKeys(rows) {
		fmt.Fprintf(&head, "**%s**\n\n| Dataset | Create | Receive | Destroy | Holds/bookmarks |\n|---|---:|---:|---:|---:|\n", mdEscape(h))
		for _, d := range sortedKeys(rows[h]) {
			r := rows[h][d]
			destroy := fmt.Sprint(r.destroy)
			if r.destroy > 0 {
				destroy = "**" + destroy + "**"
			}
			fmt.Fprintf(&head, "| `%s` | %d | %d | %s | %d |\n", d, r.create, r.send, destroy, r.other)
		}
		head.WriteString("\n")
	}
	if len(p.Conflicts) > 0 {
		fmt.Fprintf(&head, "> [!WARNING]\n> **%d conflict(s)** block edges or datasets until resolved:\n", len(p.Conflicts))
		for _, c := range p.Conflicts {
			where := c.Where()
			fmt.Fprintf(&head, "> - `%s`: %s%s\n", where, mdEscape(c.Message), mdEscape(resolution(c.Resolution)))
		}
		head.WriteString("\n")
	}
	mdOrphans(&head, p)
	var full bytes.Buffer
	Plain.Human(&full, p, len(p.Kept) > 0)
	return writeWithDetails(w, head.Bytes(), fmt.Sprintf("Full plan (%d actions)", len(p.Actions)), full.String())
}

func destroyBanner(p *plan.Plan) string {
	var snaps, aborts int
	var freed int64
	where := map[string]bool{}
	for _, a := range p.Actions {
		info, _ := a.Kind.Info()
		switch {
		case info.DestroysSnapshots:
			snaps += len(a.Snapshots)
			for _, s := range a.Snapshots {
				freed += s.Bytes
			}
			where[a.Host+":"+a.Dataset] = true
		case info.Object == plan.ObjectReceiveState && info.Change == plan.ChangeDelete:
			aborts++ // a partial receive's data is gone
			where[a.Host+":"+a.Dataset] = true
		}
	}
	if snaps == 0 && aborts == 0 {
		return ""
	}
	var parts []string
	if snaps > 0 {
		parts = append(parts, fmt.Sprintf("destroys **%d snapshot(s)** (frees ~%s)", snaps, plan.HumanBytes(freed)))
	}
	if aborts > 0 {
		parts = append(parts, fmt.Sprintf("discards **%d interrupted receive(s)**", aborts))
	}
	ws := sortedKeys(where)
	list := strings.Join(ws, "`, `")
	if len(ws) > 10 {
		list = strings.Join(ws[:10], "`, `") + fmt.Sprintf("` and %d more", len(ws)-10)
		return fmt.Sprintf("> [!WARNING]\n> This plan %s on `%s.\n\n", strings.Join(parts, " and "), list)
	}
	return fmt.Sprintf("> [!WARNING]\n> This plan %s on `%s`.\n\n", strings.Join(parts, " and "), list)
}

// writeWithDetails writes head, then body in a <details> block, cutting
// the middle of body (at line boundaries) to stay within MarkdownLimit.
func writeWithDetails(w io.Writer, head []byte, summary, body string) error {
	open := fmt.Sprintf("<details><summary>%s</summary>\n\n```\n", summary)
	closing := "```\n\n</details>\n"
	budget := MarkdownLimit - len(head) - len(open) - len(closing) - 200
	body = truncateMiddle(body, max(budget, 1000))
	var out bytes.Buffer
	out.Write(head)
	out.WriteString(open)
	out.WriteString(strings.ReplaceAll(body, "```", "'''"))
	if !strings.HasSuffix(body, "\n") {
		out.WriteString("\n")
	}
	out.WriteString(closing)
	_, err := w.Write(out.Bytes())
	return err
}

// truncateMiddle keeps the start and the end of s (whole lines) within
// limit characters and says how much it left out.
func truncateMiddle(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	half := (limit - 100) / 2
	headEnd := strings.LastIndexByte(s[:half], '\n') + 1
	tailStart := len(s) - half
	if i := strings.IndexByte(s[tailStart:], '\n'); i >= 0 {
		tailStart += i + 1
	}
	omitted := s[headEnd:tailStart]
	return s[:headEnd] + fmt.Sprintf("\n... %d lines (%d characters) omitted; run zplan show on the saved plan for all of it ...\n\n", strings.Count(omitted, "\n"), len(omitted)) + s[tailStart:]
}

func mdEscape(s string) string {
	r := strings.NewReplacer("|", "\\|", "<", "&lt;", ">", "&gt;", "\n", " ")
	return r.Replace(s)
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// DriftMarkdown writes a drift report for a PR or issue comment.
func DriftMarkdown(w io.Writer, r *drift.Report) error {
	var head bytes.Buffer
	if len(r.Findings) == 0 {
		fmt.Fprintf(&head, "### zplan drift: none\n\nThe hosts match the configuration (checked %s).\n", r.Time.Format("2006-01-02T15:04:05Z"))
		_, err := w.Write(head.Bytes())
		return err
	}
	fmt.Fprintf(&head, "### zplan drift: %s\n\nChecked %s; an apply now would run %d action(s).\n\n", driftCounts(r), r.Time.Format("2006-01-02T15:04:05Z"), r.PendingActions)
	if c := r.Counts(); c[drift.Conflict] > 0 || c[drift.RetentionOverdue] > 0 {
		fmt.Fprintf(&head, "> [!WARNING]\n> %d conflict(s) need a person; %d snapshot(s) are kept past retention and the next apply destroys them.\n\n", c[drift.Conflict], c[drift.RetentionOverdue])
	}
	byHost := map[string][]drift.Finding{}
	for _, f := range r.Findings {
		byHost[f.Host] = append(byHost[f.Host], f)
	}
	const maxRows = 50
	for _, h := range sortedKeys(byHost) {
		fmt.Fprintf(&head, "**%s**\n\n| Kind | Dataset | Age | Finding |\n|---|---|---:|---|\n", mdEscape(h))
		for i, f := range byHost[h] {
			if i == maxRows {
				fmt.Fprintf(&head, "| … | %d more | | see the full report |\n", len(byHost[h])-maxRows)
				break
			}
			ag := ""
			if f.Since != nil {
				ag = age(f.Age)
			}
			fmt.Fprintf(&head, "| %s | `%s` | %s | %s |\n", f.Kind, f.Dataset, ag, mdEscape(f.Message))
		}
		head.WriteString("\n")
	}
	var full bytes.Buffer
	Plain.DriftHuman(&full, r)
	return writeWithDetails(w, head.Bytes(), fmt.Sprintf("Full drift report (%d findings)", len(r.Findings)), full.String())
}

func driftCounts(r *drift.Report) string {
	c := r.Counts()
	var parts []string
	for _, k := range sortedKeys(kindMap(c)) {
		parts = append(parts, fmt.Sprintf("%d %s", c[drift.Kind(k)], strings.ReplaceAll(k, "_", " ")))
	}
	return strings.Join(parts, ", ")
}

func kindMap(c map[drift.Kind]int) map[string]int {
	m := map[string]int{}
	for k, v := range c {
		m[string(k)] = v
	}
	return m
}

func age(sec int64) string {
	d := sec
	switch {
	case d >= 2*86400:
		return fmt.Sprintf("%dd%dh", d/86400, d%86400/3600)
	case d >= 3600:
		return fmt.Sprintf("%dh%02dm", d/3600, d%3600/60)
	case d >= 60:
		return fmt.Sprintf("%dm%02ds", d/60, d%60)
	}
	return fmt.Sprintf("%ds", d)
}

// mdOrphans notes zplan's holds and cursors no configured edge owns.
func mdOrphans(head *bytes.Buffer, p *plan.Plan) {
	if len(p.Orphans) == 0 {
		return
	}
	if !bytes.HasSuffix(head.Bytes(), []byte("\n\n")) {
		head.WriteString("\n")
	}
	fmt.Fprintf(head, "> [!NOTE]\n> **%d orphan(s)**: zplan holds or cursors of no configured edge:\n", len(p.Orphans))
	for _, o := range p.Orphans {
		fmt.Fprintf(head, "> - `%s:%s` (%s): %s\n", o.Host, o.Object(), o.Kind, mdEscape(o.Why+kept(o)))
	}
	if !releasesOrphans(p) {
		fmt.Fprintf(head, ">\n> %s\n", mdEscape(plan.OrphansHint))
	}
	head.WriteString("\n")
}
