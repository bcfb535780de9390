// Package applycmd is zplan apply.
package applycmd

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/zplan/zplan/apply"
	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/internal/cmdutil"
	"github.com/zplan/zplan/lock"
	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/planfile"
	"github.com/zplan/zplan/remote"
	"github.com/zplan/zplan/views"
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

// Options are zplan apply's inputs.
type Options struct {
	Factory     *cmdutil.Factory
	Flags       cmdutil.PlanFlags
	Lock        lockFlags
	AutoApprove bool
	Parallelism int
	BWLimit     string // -bwlimit, e.g. "100MiB/s": all sends together
	PlanFile    string // a saved plan to apply, as given
	Format      views.Format
}

// NewCmdApply builds zplan apply; runF (nil: Run) carries it out.
func NewCmdApply(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Factory: f}
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

-bwlimit RATE (e.g. 100MiB/s) caps all sends together; each
replication's send { bandwidth } caps its own sends, and both hold.
These settings and send { buffer } come from the configuration also for
a saved plan: they change how fast the bytes move, never which.

-format json (or -json) writes the plan and each action's progress as
JSON events; -format markdown writes the plan for a PR comment and the
progress in a code block. Neither can ask for confirmation: they need
-auto-approve or a saved plan.

Every pool the configuration names (with a saved plan: every pool it works
on) is locked before the hosts are observed, so the plan is made under the
lock. A lock left by a zplan of this controller that died (kill -9, crash,
reboot) is broken, with a line saying so; one held by a live zplan or by
another controller is waited for (-lock-timeout) or reported with how to
remove it (zplan force-unlock). A host zplan cannot connect to is not
locked and not observed: its edges are conflicts and the rest is applied
(exit 1); a saved plan needs every host it works on.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if opts.Format, err = opts.Flags.Output.Resolve(cmd); err != nil {
				return err
			}
			if len(args) == 1 {
				opts.PlanFile = args[0]
			}
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	opts.Flags.Register(cmd)
	opts.Lock.register(cmd)
	cmd.Flags().BoolVar(&opts.AutoApprove, "auto-approve", false, "do not ask for confirmation")
	cmd.Flags().IntVar(&opts.Parallelism, "parallelism", 4, "how many actions may run at once")
	cmd.Flags().StringVar(&opts.BWLimit, "bwlimit", "", `cap all sends together at this rate, e.g. "100MiB/s" (each replication's send { bandwidth } also applies)`)
	return cmd
}

// Run plans (or loads the saved plan), confirms, locks and applies.
func Run(opts *Options) error {
	f, fl := opts.Factory, &opts.Flags
	if fl.NoColor {
		f.IO.SetColorEnabled(false)
	}
	v := views.NewApply(opts.Format, f.View())
	var bwlimit int64
	if opts.BWLimit != "" {
		var err error
		if bwlimit, err = hclspec.ParseRate(opts.BWLimit); err != nil {
			return cmdutil.UsageError{Msg: "-bwlimit: " + err.Error()}
		}
	}
	var saved *planfile.File
	if opts.PlanFile != "" {
		if fl.Now != "" || len(fl.Targets) > 0 || fl.Explain {
			return cmdutil.UsageError{Msg: "-now, -target and -explain apply when planning; a saved plan already has them"}
		}
		if err := fl.Config.CheckChdir(); err != nil {
			return err
		}
		var err error
		if saved, err = planfile.Load(fl.Config.Path(opts.PlanFile)); err != nil {
			return err
		}
	}
	ctx, stop := cmdutil.SignalContext()
	defer stop()
	s, err := fl.Open(ctx, f)
	if err != nil {
		return err
	}
	defer s.Close()
	// A saved plan is checked against the configuration before
	// anything reaches a host, the locks of the pools it names too.
	if saved != nil {
		if err := checkSaved(saved, s.Cfg, f); err != nil {
			return v.Refused(opts.PlanFile, err)
		}
	}
	// Lock before observing, so the plan is made (or the saved one
	// checked) while no other apply can change the pools.
	if opts.Lock.enabled {
		pools := configPools(s.Cfg)
		if saved != nil {
			pools = planPools(saved.Plan)
		}
		release, unreachable, err := lockPools(ctx, pools, s.Hosts, opts.Lock, v, saved == nil)
		if err != nil {
			return err
		}
		defer release()
		s.Unobserved = unreachable
	}
	var p *plan.Plan
	if saved != nil {
		p = saved.Plan
	} else if p, err = s.MakePlan(ctx, fl.Explain, fl.Targets); err != nil {
		return err
	}
	if err := v.Plan(p, fl.Explain); err != nil {
		return err
	}
	if p.Empty() {
		return cmdutil.PlanExit(p, false)
	}
	if saved == nil && !opts.AutoApprove {
		ok, err := v.Confirm()
		if err != nil {
			return err
		}
		if !ok {
			v.Cancelled()
			return cmdutil.ErrFailed
		}
	}
	rep := v.Start()
	hosts := s.Hosts
	if saved == nil {
		// The plan has nothing for an unobserved host; without it in the
		// map, apply refuses anything that would still reach it.
		hosts = s.ObservedHosts()
	}
	res, err := apply.Apply(ctx, p, hosts, apply.Options{
		Parallelism: opts.Parallelism, Reporter: rep, Resume: saved != nil,
		Wire: wireOptions(s.Cfg), Bandwidth: bwlimit,
	})
	if err := v.Result(p, res, err, saved != nil); err != nil {
		return err
	}
	return cmdutil.PlanExit(p, false)
}

// checkSaved refuses a saved plan made by another zplan or for another
// configuration, and then every action in it that the configuration
// could not have produced: the file is input, and what apply runs must
// follow from the configuration, not from whoever last edited the file.
func checkSaved(saved *planfile.File, cfg *hclspec.Config, f *cmdutil.Factory) error {
	if err := saved.Verify(f.Getenv(planfile.KeyEnv)); err != nil {
		return err
	}
	if err := saved.CheckApplicable(f.Version, cfg.Hash); err != nil {
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
//
// With degrade (planning now, not a saved plan), a host that cannot be
// connected to is returned in unreachable instead of failing the apply:
// nothing else is run on it, it is not observed, so the plan has
// nothing for it and invariant 8 holds without its lock. A saved plan
// was made with that host and checks preconditions on it: it needs
// every lock, or nothing runs (plan again to get one without the host).
func lockPools(ctx context.Context, set map[hostPool]bool, hosts map[string]remote.Host, lf lockFlags, v views.Apply, degrade bool) (release func(), unreachable map[string]error, err error) {
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
	unreachable = map[string]error{}
	release = func() {
		for i := len(held) - 1; i >= 0; i-- {
			if err := held[i].Release(context.WithoutCancel(ctx)); err != nil {
				v.Warn(err)
			}
		}
	}
	me := lock.Me(nil, time.Now())
	for _, k := range keys {
		h := hosts[k.host]
		if h == nil || unreachable[k.host] != nil {
			continue // apply reports a missing host; an unreachable one is not tried again
		}
		l, err := lock.Acquire(ctx, h, k.host, k.pool, me, lock.Options{
			Timeout: lf.timeout,
			Broke: func(st lock.Status) {
				v.LockBroke(fmt.Sprintf("Broke the lock of %s:%s left by %s: %s", st.Host, st.Pool, st.Owner, st.Why))
			},
			Waiting: func(st lock.Status) { v.LockWaiting(st.String()) },
		})
		if err != nil {
			if degrade && errors.Is(err, remote.ErrUnreachable) && ctx.Err() == nil {
				unreachable[k.host] = fmt.Errorf("taking the lock of %s:%s: %w", k.host, k.pool, err)
				continue
			}
			release()
			return nil, nil, fmt.Errorf("acquiring the lock: %w", err)
		}
		held = append(held, l)
	}
	return release, unreachable, nil
}

func poolOf(ds string) string {
	p, _, _ := strings.Cut(ds, "/")
	p, _, _ = strings.Cut(p, "@")
	return p
}

// wireOptions are the relay settings of every replication, by id. They
// come from the configuration even for a saved plan: they change how
// fast bytes move, not which, and the plan's config hash pins them.
func wireOptions(cfg *hclspec.Config) map[string]apply.Wire {
	w := map[string]apply.Wire{}
	for _, r := range cfg.Replications {
		w[r.ID] = apply.Wire{Bandwidth: r.Wire.Bandwidth, Buffer: int(r.Wire.Buffer)}
	}
	return w
}
