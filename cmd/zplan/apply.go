package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"

	"github.com/zplan/zplan/apply"
	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/lock"
	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/planfile"
	"github.com/zplan/zplan/remote"
	"github.com/zplan/zplan/render"
)

// lockFlags choose how apply locks the pools it works on.
type lockFlags struct {
	enabled bool
	timeout time.Duration
}

func (l *lockFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&l.enabled, "lock", true, "lock every pool the apply works on, so two applies never overlap (-lock=false only if you know no other zplan runs)")
	cmd.Flags().DurationVar(&l.timeout, "lock-timeout", 0, "how long to wait for a lock another zplan holds (e.g. 5m; 0: fail at once)")
}

func init() {
	var (
		f           planFlags
		lf          lockFlags
		autoApprove bool
		parallelism int
	)
	cmd := &cobra.Command{
		Use:   "apply [PLANFILE]",
		Short: "Plan, then carry out the actions after confirmation; or carry out a saved plan",
		Long: `apply makes a plan exactly like zplan plan, shows it, asks for "yes"
(unless -auto-approve), and carries it out: actions run in dependency order,
up to -parallelism at a time, each one's preconditions re-checked just
before it runs. Ctrl-C or SIGTERM stops cleanly: an interrupted send stays
resumable and the next plan shows a resume action.

zplan apply PLANFILE carries out a plan saved with zplan plan -out, without
asking: exactly its actions, its snapshot names (the plan time). The
configuration is still loaded for the hosts; a plan made for another
configuration or by another zplan version is refused. An action whose
preconditions no longer hold is refused ("Saved plan is stale: ..."), and
actions an earlier, interrupted apply of the same file already did are
recognised and skipped, so a partly applied plan can be applied again.

Every pool the configuration names (with a saved plan: every pool it works
on) is locked before the hosts are observed, so the plan is made under the
lock. A lock left by a zplan of this controller that died (kill -9, crash,
reboot) is broken, with a line saying so; one held by a live zplan or by
another controller is waited for (-lock-timeout) or reported with how to
remove it (zplan force-unlock).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signalContext()
			defer stop()
			out := cmd.OutOrStdout()
			var saved *planfile.File
			if len(args) == 1 {
				if f.now != "" || len(f.targets) > 0 || f.explain {
					return errors.New("-now, -target and -explain apply when planning; a saved plan already has them")
				}
				var err error
				if saved, err = planfile.Load(args[0]); err != nil {
					return err
				}
			}
			s, err := f.open(ctx)
			if err != nil {
				return err
			}
			defer s.close()
			var stream *render.Stream
			if f.json {
				stream = render.NewStream(out)
			}
			// A saved plan is checked against the configuration before
			// anything reaches a host, the locks of the pools it names too.
			if saved != nil {
				if err := checkSaved(saved, s.cfg); err != nil {
					if stream != nil {
						stream.Version(version)
						stream.Diagnostic("error", "Saved plan cannot be applied", err.Error())
						return exitError{1}
					}
					return fmt.Errorf("saved plan %s cannot be applied: %w", args[0], err)
				}
			}
			// Lock before observing, so the plan is made (or the saved
			// one checked) while no other apply can change the pools.
			if lf.enabled {
				pools := configPools(s.cfg)
				if saved != nil {
					pools = planPools(saved.Plan)
				}
				release, err := lockPools(ctx, pools, s.hosts, lf, stream, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				defer release()
			}
			var p *plan.Plan
			if saved != nil {
				p = saved.Plan
			} else if p, err = s.makePlan(ctx, f.explain, f.targets); err != nil {
				return err
			}
			f.output(out, p, "apply")
			if p.Empty() {
				return planExit(p, false)
			}
			if saved == nil && !autoApprove && !f.json {
				if !confirm(cmd.InOrStdin(), out) {
					fmt.Fprintln(out, "Apply cancelled.")
					return exitError{1}
				}
			} else if saved == nil && !autoApprove {
				stream.Diagnostic("error", "-json needs -auto-approve or a saved plan", "zplan cannot ask for confirmation while it writes JSON.")
				return exitError{1}
			}
			if !f.json {
				fmt.Fprintln(out)
			}
			var rep apply.Reporter
			if stream != nil {
				rep = newJSONProgress(stream)
			} else {
				rep = newProgress(out, cmd.ErrOrStderr(), isTerminal(out))
			}
			res, err := apply.Apply(ctx, p, s.hosts, apply.Options{Parallelism: parallelism, Reporter: rep, Resume: saved != nil})
			if stream != nil {
				level := "info"
				if err != nil {
					level = "error"
				}
				stream.Emit(level, "change_summary", applySummary(res), map[string]any{"changes": map[string]any{
					"done": res.Done, "already_done": res.AlreadyDone, "failed": res.Failed, "refused": res.Refused,
					"skipped": res.Skipped, "operation": "apply"}})
				if err != nil {
					return exitError{1}
				}
				return planExit(p, false)
			}
			fmt.Fprintf(out, "\n%s\n", applySummary(res))
			if err != nil {
				return staleMessage(err, saved != nil)
			}
			partialWarning(out, p)
			return planExit(p, false)
		},
	}
	f.register(cmd)
	lf.register(cmd)
	cmd.Flags().BoolVar(&autoApprove, "auto-approve", false, "do not ask for confirmation")
	cmd.Flags().IntVar(&parallelism, "parallelism", 4, "how many actions may run at once")
	rootCmd.AddCommand(cmd)
}

// checkSaved refuses a saved plan made by another zplan or for another
// configuration, and then every action in it that the configuration
// could not have produced: the file is input, and what apply runs must
// follow from the configuration, not from whoever last edited the file.
func checkSaved(saved *planfile.File, cfg *hclspec.Config) error {
	if err := saved.Verify(os.Getenv(planfile.KeyEnv)); err != nil {
		return err
	}
	if err := saved.CheckApplicable(version, cfg.Hash); err != nil {
		return err
	}
	pol, err := planfile.PolicyFor(cfg, saved.Plan)
	if err != nil {
		return err
	}
	if errs := planfile.Validate(saved.Plan, pol); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return fmt.Errorf("the plan contains actions this configuration cannot produce, so nothing was run:\n  %s", strings.Join(msgs, "\n  "))
	}
	return nil
}

func applySummary(res apply.Result) string {
	s := fmt.Sprintf("Apply complete: %d done, %d failed, %d refused, %d skipped.", res.Done, res.Failed, res.Refused, res.Skipped)
	if res.AlreadyDone > 0 {
		s += fmt.Sprintf(" (%d already done by an earlier apply)", res.AlreadyDone)
	}
	return s
}

// staleMessage puts "Saved plan is stale" up front when preconditions
// failed, naming each fact that changed.
func staleMessage(err error, saved bool) error {
	if !errors.Is(err, apply.ErrStale) {
		return err
	}
	what := "The plan is stale"
	if saved {
		what = "Saved plan is stale"
	}
	var facts []string
	var walk func(error)
	walk = func(e error) {
		var se *apply.StaleError
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var ae *apply.ActionError
		if errors.As(e, &ae) && errors.As(ae.Err, &se) {
			facts = append(facts, ae.Address+": "+se.Fact)
		}
	}
	walk(err)
	return fmt.Errorf("%s: %s. The hosts changed since the plan was made; make a new plan", what, strings.Join(facts, "; "))
}

// hostPool is one pool of one host.
type hostPool struct{ host, pool string }

// planPools are the pools a saved plan works on.
func planPools(p *plan.Plan) map[hostPool]bool {
	set := map[hostPool]bool{}
	for _, a := range p.Actions {
		set[hostPool{a.Host, poolOf(a.Dataset)}] = true
		if a.Send != nil {
			set[hostPool{a.Send.TargetHost, poolOf(a.Send.TargetDataset)}] = true
		}
	}
	return set
}

// configPools are the pools a plan of cfg can work on: those of every
// dataset pattern and replication target root. Locked before
// observing, so before the plan says which ones it needs.
func configPools(cfg *hclspec.Config) map[hostPool]bool {
	set := map[hostPool]bool{}
	add := func(host string, sel hclspec.DatasetSelector) {
		for _, pat := range sel.Include {
			set[hostPool{host, poolOf(pat)}] = true
		}
	}
	for _, sp := range cfg.Snapshots {
		add(sp.Host, sp.Datasets)
	}
	for _, r := range cfg.Replications {
		add(r.SourceHost, r.SourceDatasets)
		set[hostPool{r.TargetHost, poolOf(r.TargetRoot)}] = true
	}
	return set
}

// lockPools takes the lock of every (host, pool) in set, in a fixed
// order so two applies cannot each wait for the other. A lock left by a
// dead apply of this controller is broken, with one line saying so.
func lockPools(ctx context.Context, set map[hostPool]bool, hosts map[string]remote.Host, lf lockFlags, stream *render.Stream, errw io.Writer) (func(), error) {
	type hp = hostPool
	keys := make([]hp, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].host != keys[j].host {
			return keys[i].host < keys[j].host
		}
		return keys[i].pool < keys[j].pool
	})
	var held []*lock.Lock
	release := func() {
		for i := len(held) - 1; i >= 0; i-- {
			if err := held[i].Release(context.WithoutCancel(ctx)); err != nil {
				fmt.Fprintln(errw, "Warning:", err)
			}
		}
	}
	me := lock.Me(nil, time.Now())
	for _, k := range keys {
		h := hosts[k.host]
		if h == nil {
			continue // apply reports the missing host
		}
		l, err := lock.Acquire(ctx, h, k.host, k.pool, me, lock.Options{
			Timeout: lf.timeout,
			Broke: func(st lock.Status) {
				msg := fmt.Sprintf("Broke the lock of %s:%s left by %s: %s", st.Host, st.Pool, st.Owner, st.Why)
				if stream != nil {
					stream.Diagnostic("warning", "Broke a dead lock", msg)
				} else {
					fmt.Fprintln(errw, msg)
				}
			},
			Waiting: func(st lock.Status) {
				if stream != nil {
					stream.Diagnostic("warning", "Waiting for lock", st.String())
				} else {
					fmt.Fprintf(errw, "Waiting for lock: %s\n", st)
				}
			},
		})
		if err != nil {
			release()
			return nil, fmt.Errorf("acquiring the lock: %w", err)
		}
		held = append(held, l)
	}
	return release, nil
}

func poolOf(ds string) string {
	p, _, _ := strings.Cut(ds, "/")
	p, _, _ = strings.Cut(p, "@")
	return p
}

func confirm(in io.Reader, out io.Writer) bool {
	fmt.Fprint(out, "\nDo you want to perform these actions?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ")
	line, _ := bufio.NewReader(in).ReadString('\n')
	return strings.TrimSpace(line) == "yes"
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

// progress prints one line per finished action. For sends it shows
// bytes, rate and ETA: on a terminal one line redrawn in place at most
// 4 times a second; otherwise a plain line at most every 10 seconds, so
// CI logs stay readable.
type progress struct {
	mu     sync.Mutex
	w      io.Writer
	errw   io.Writer
	tty    bool
	now    func() time.Time
	start  map[string]time.Time
	last   map[string]time.Time
	drawn  bool // a progress line is on screen without a newline
	redraw time.Duration
	every  time.Duration
}

func newProgress(w, errw io.Writer, tty bool) *progress {
	return &progress{w: w, errw: errw, tty: tty, now: time.Now, start: map[string]time.Time{}, last: map[string]time.Time{},
		redraw: 250 * time.Millisecond, every: 10 * time.Second}
}

// sendStatus is bytes, rate and ETA of a send so far.
func sendStatus(a *plan.Action, bytes int64, elapsed time.Duration) string {
	rate := float64(bytes) / max(elapsed.Seconds(), 0.001)
	line := fmt.Sprintf("%s sent, %s/s", plan.HumanBytes(bytes), plan.HumanBytes(int64(rate)))
	if a.Estimate > 0 {
		pct := min(100*float64(bytes)/float64(a.Estimate), 100)
		line = fmt.Sprintf("%s of ~%s (%.0f%%), %s/s", plan.HumanBytes(bytes), plan.HumanBytes(a.Estimate), pct, plan.HumanBytes(int64(rate)))
		if a.Estimate > bytes && rate > 0 {
			line += fmt.Sprintf(", ETA %s", (time.Duration(float64(a.Estimate-bytes)/rate) * time.Second).Round(time.Second))
		}
	}
	return line
}

func (p *progress) clearLine() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

func (p *progress) Report(e apply.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := e.Action
	now := p.now()
	switch e.Kind {
	case apply.EventStart:
		p.clearLine()
		p.start[a.Address] = now
		fmt.Fprintf(p.w, "%s: %s...\n", a.Address, verb(a.Kind))
	case apply.EventProgress:
		every := p.every
		if p.tty {
			every = p.redraw
		}
		if now.Sub(p.last[a.Address]) < every {
			return
		}
		p.last[a.Address] = now
		status := sendStatus(a, e.Bytes, now.Sub(p.start[a.Address]))
		if p.tty {
			p.clearLine()
			fmt.Fprintf(p.w, "%s %s: %s", bar(e.Bytes, a.Estimate), a.Address, status)
			p.drawn = true
			return
		}
		fmt.Fprintf(p.w, "%s: %s\n", a.Address, status)
	case apply.EventDone:
		p.clearLine()
		if e.AlreadyDone {
			fmt.Fprintf(p.w, "%s: already done\n", a.Address)
			return
		}
		fmt.Fprintf(p.w, "%s: done after %s\n", a.Address, now.Sub(p.start[a.Address]).Round(time.Millisecond))
	default:
		p.clearLine()
		fmt.Fprintf(p.errw, "%s: %s: %v\n", a.Address, e.Kind, e.Err)
	}
}

// bar is a 20-cell progress bar ("[=====>     ]").
func bar(n, total int64) string {
	const width = 20
	if total <= 0 {
		return "[" + strings.Repeat("?", width) + "]"
	}
	fill := int(min(float64(n)/float64(total), 1) * width)
	b := strings.Repeat("=", fill)
	if fill < width {
		b += ">" + strings.Repeat(" ", width-fill-1)
	}
	return "[" + b + "]"
}

// jsonProgress turns apply events into apply_* stream lines; send
// progress at most once a second per action.
type jsonProgress struct {
	mu    sync.Mutex
	s     *render.Stream
	start map[string]time.Time
	last  map[string]time.Time
}

func newJSONProgress(s *render.Stream) *jsonProgress {
	return &jsonProgress{s: s, start: map[string]time.Time{}, last: map[string]time.Time{}}
}

func (j *jsonProgress) Report(e apply.Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	a := e.Action
	now := j.s.Now()
	hook := map[string]any{"resource": render.Resource(a), "action": render.ChangeAction(a.Kind)}
	switch e.Kind {
	case apply.EventStart:
		j.start[a.Address] = now
		j.s.Emit("info", "apply_start", a.Address+": "+verb(a.Kind)+"...", map[string]any{"hook": hook})
	case apply.EventProgress:
		if now.Sub(j.last[a.Address]) < time.Second {
			return
		}
		j.last[a.Address] = now
		el := now.Sub(j.start[a.Address])
		rate := float64(e.Bytes) / max(el.Seconds(), 0.001)
		hook["bytes"] = e.Bytes
		hook["estimate"] = a.Estimate
		hook["bytes_per_second"] = int64(rate)
		hook["elapsed_seconds"] = el.Seconds()
		if a.Estimate > e.Bytes && rate > 0 {
			hook["eta_seconds"] = int64(float64(a.Estimate-e.Bytes) / rate)
		}
		j.s.Emit("info", "apply_progress", a.Address+": "+sendStatus(a, e.Bytes, el), map[string]any{"hook": hook})
	case apply.EventDone:
		hook["already_done"] = e.AlreadyDone
		hook["elapsed_seconds"] = now.Sub(j.start[a.Address]).Seconds()
		msg := a.Address + ": done"
		if e.AlreadyDone {
			msg = a.Address + ": already done"
		}
		j.s.Emit("info", "apply_complete", msg, map[string]any{"hook": hook})
	default:
		hook["outcome"] = string(e.Kind)
		hook["stale"] = errors.Is(e.Err, apply.ErrStale)
		hook["error"] = fmt.Sprint(e.Err)
		level := "error"
		if e.Kind == apply.EventSkipped {
			level = "warn"
		}
		j.s.Emit(level, "apply_errored", fmt.Sprintf("%s: %s: %v", a.Address, e.Kind, e.Err), map[string]any{"hook": hook})
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
