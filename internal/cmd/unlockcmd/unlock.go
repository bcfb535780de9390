// Package unlockcmd is zplan force-unlock.
package unlockcmd

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/zplan/zplan/internal/cmdutil"
	"github.com/zplan/zplan/lock"
)

// Options are zplan force-unlock's inputs.
type Options struct {
	Factory *cmdutil.Factory
	Flags   cmdutil.PlanFlags // -chdir, -config, -var
	Target  string            // HOST[:POOL]
}

// NewCmdForceUnlock builds zplan force-unlock; runF (nil: Run) carries it out.
func NewCmdForceUnlock(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Factory: f}
	cmd := &cobra.Command{
		Use:   "force-unlock HOST[:POOL]",
		Short: "Remove the apply lock of a pool (or of every pool of a host)",
		Long: `force-unlock removes the lock zplan apply takes on each pool it works on
(the snapshot POOL@zplan-lock with its owner in the zplan:lock property,
held by the owner's zplan_lock:... tag), whoever holds it. Use it only when
no zplan apply runs against the pool: the lock is what keeps two applies
from working on the same datasets. apply itself breaks a lock whose owner
provably died on the same controller; force-unlock is for the rest (a
controller that is gone, another machine). It prints who held each lock it
removes. A POOL@zplan-lock that zplan did not create is never destroyed:
zplan's hold tags on it are released and the snapshot is left in place.`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			opts.Target = args[0]
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	opts.Flags.Config.Register(cmd)
	return cmd
}

// Run removes the locks.
func Run(opts *Options) error {
	ctx, stop := cmdutil.SignalContext()
	defer stop()
	hostName, pool, _ := strings.Cut(opts.Target, ":")
	s, err := opts.Flags.Open(ctx, opts.Factory)
	if err != nil {
		return err
	}
	defer s.Close()
	h := s.Hosts[hostName]
	if h == nil {
		return fmt.Errorf("host %q is not in the configuration", hostName)
	}
	var pools []string
	if pool != "" {
		pools = []string{pool}
	}
	removed, err := lock.ForceUnlock(ctx, h, hostName, pools)
	w := opts.Factory.IO.Out
	for _, st := range removed {
		if st.Foreign != "" {
			fmt.Fprintf(w, "Left %s@%s on %s in place: %s (released zplan's holds on it, if any)\n", st.Pool, lock.SnapName, st.Host, st.Foreign)
			continue
		}
		fmt.Fprintf(w, "Removed the lock of %s:%s (held by %s)\n", st.Host, st.Pool, st.Owner)
	}
	if err != nil {
		return err
	}
	if len(removed) == 0 {
		fmt.Fprintf(w, "No lock on %s.\n", opts.Target)
	}
	return nil
}
