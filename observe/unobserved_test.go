package observe

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/zplan/zplan/remote"
)

// downHost is a host zplan cannot connect to.
type downHost struct{}

func (downHost) Name() string { return "down" }
func (downHost) Close() error { return nil }
func (downHost) Run(context.Context, remote.Cmd) error {
	return &remote.UnreachableError{Err: errors.New("host down: cannot reach down.example:22: connection refused")}
}

// One host that cannot be listed is recorded with why and what to do;
// the others are observed. Observe, for callers that need every host,
// still fails.
func TestObserveAllRecordsUnobservedHosts(t *testing.T) {
	hosts := map[string]remote.Host{"up": &cannedHost{datasets: 2, snaps: 3}, "down": downHost{}}
	st, err := ObserveAll(context.Background(), hosts)
	if err != nil {
		t.Fatal(err)
	}
	if st.Hosts["up"] == nil || len(st.Hosts["up"].Datasets) == 0 {
		t.Fatalf("healthy host not observed: %+v", st.Hosts)
	}
	if st.Hosts["down"] != nil {
		t.Fatal("the unreachable host is in Hosts")
	}
	err = st.Unobserved["down"]
	if !errors.Is(err, remote.ErrUnreachable) {
		t.Fatalf("Unobserved[down] = %v, want the connection error", err)
	}
	why := st.WhyUnobserved("down")
	for _, want := range []string{"host down was not observed", "connection refused", "check that it is up"} {
		if !strings.Contains(why, want) {
			t.Errorf("WhyUnobserved = %q, want it to contain %q", why, want)
		}
	}
	if _, err := Observe(context.Background(), hosts); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Observe: %v, want the host's error", err)
	}
}

// A cancelled observation says nothing about the hosts: it is an error,
// not a state with every host unobserved.
func TestObserveAllCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if st, err := ObserveAll(ctx, map[string]remote.Host{"down": downHost{}}); err == nil {
		t.Fatalf("no error, state %+v", st)
	}
}
