package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/zplan/zplan/lock"
)

// ForceUnlockOptions are zplan force-unlock's inputs.
type ForceUnlockOptions struct {
	Factory *factory
	Flags   planFlags // -chdir, -config, -var
	Target  string    // HOST[:POOL]
}

func newCmdForceUnlock(f *factory) *cobra.Command {
	opts := &ForceUnlockOptions{Factory: f}
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
			return runForceUnlock(opts)
		},
	}
	opts.Flags.config.register(cmd, f.IO)
	return cmd
}

func runForceUnlock(opts *ForceUnlockOptions) error {
	ctx, stop := signalContext()
	defer stop()
	hostName, pool, _ := strings.Cut(opts.Target, ":")
	s, err := opts.Flags.open(ctx, opts.Factory)
	if err != nil {
		return err
	}
	defer s.close()
	h := s.hosts[hostName]
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
