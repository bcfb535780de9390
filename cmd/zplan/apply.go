package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/zplan/zplan/apply"
	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/render"
)

func init() {
	var (
		f           planFlags
		autoApprove bool
		parallelism int
	)
	cmd := &cobra.Command{
		Use:   "apply",
		Short: "Plan, then carry out the actions after confirmation",
		Long: `apply makes a plan exactly like zplan plan, shows it, asks for "yes"
(unless -auto-approve), and carries it out: actions run in dependency order,
up to -parallelism at a time, each one's preconditions re-checked just
before it runs. Ctrl-C or SIGTERM stops cleanly: an interrupted send stays
resumable and the next plan shows a resume action.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signalContext()
			defer stop()
			out := cmd.OutOrStdout()
			now, err := f.planTime()
			if err != nil {
				return err
			}
			s, err := f.open(ctx)
			if err != nil {
				return err
			}
			defer s.close()
			p, err := s.makePlan(ctx, now, f.explain)
			if err != nil {
				return err
			}
			render.Human(out, p, f.explain)
			if p.Empty() {
				return planExit(p, false)
			}
			if !autoApprove && !confirm(cmd.InOrStdin(), out) {
				fmt.Fprintln(out, "Apply cancelled.")
				return exitError{1}
			}
			fmt.Fprintln(out)
			rep := newProgress(out, cmd.ErrOrStderr())
			res, err := apply.Apply(ctx, p, s.hosts, apply.Options{Parallelism: parallelism, Reporter: rep})
			fmt.Fprintf(out, "\nApply complete: %d done, %d failed, %d refused, %d skipped.\n", res.Done, res.Failed, res.Refused, res.Skipped)
			if err != nil {
				return err
			}
			return planExit(p, false)
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&autoApprove, "auto-approve", false, "do not ask for confirmation")
	cmd.Flags().IntVar(&parallelism, "parallelism", 4, "how many actions may run at once")
	rootCmd.AddCommand(cmd)
}

func confirm(in io.Reader, out io.Writer) bool {
	fmt.Fprint(out, "\nDo you want to perform these actions?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ")
	line, _ := bufio.NewReader(in).ReadString('\n')
	return strings.TrimSpace(line) == "yes"
}

// progress prints one line per finished action and, for sends, a line
// at most every few seconds with bytes, rate and ETA.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	errw  io.Writer
	start map[string]time.Time
	last  map[string]time.Time
}

func newProgress(w, errw io.Writer) *progress {
	return &progress{w: w, errw: errw, start: map[string]time.Time{}, last: map[string]time.Time{}}
}

func (p *progress) Report(e apply.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := e.Action
	now := time.Now()
	switch e.Kind {
	case apply.EventStart:
		p.start[a.Address] = now
		fmt.Fprintf(p.w, "%s: %s...\n", a.Address, verb(a.Kind))
	case apply.EventProgress:
		if now.Sub(p.last[a.Address]) < 5*time.Second {
			return
		}
		p.last[a.Address] = now
		el := now.Sub(p.start[a.Address]).Seconds()
		rate := float64(e.Bytes) / max(el, 0.001)
		line := fmt.Sprintf("%s: %s sent, %s/s", a.Address, plan.HumanBytes(e.Bytes), plan.HumanBytes(int64(rate)))
		if a.Estimate > e.Bytes && rate > 0 {
			line += fmt.Sprintf(" (estimate ~%s, ETA %s)", plan.HumanBytes(a.Estimate),
				(time.Duration(float64(a.Estimate-e.Bytes)/rate) * time.Second).Round(time.Second))
		}
		fmt.Fprintln(p.w, line)
	case apply.EventDone:
		fmt.Fprintf(p.w, "%s: done after %s\n", a.Address, now.Sub(p.start[a.Address]).Round(time.Millisecond))
	default:
		fmt.Fprintf(p.errw, "%s: %s: %v\n", a.Address, e.Kind, e.Err)
	}
}

func verb(k plan.Kind) string {
	switch k {
	case plan.KindSnapshot:
		return "creating snapshots"
	case plan.KindDestroy, plan.KindDestroyBookmark:
		return "destroying"
	case plan.KindSendFull, plan.KindSendIncremental, plan.KindSendResume:
		return "sending"
	}
	return strings.ReplaceAll(string(k), "_", " ")
}
