// Command progressdemo drives apply's terminal progress view with
// synthetic events: a snapshot, then two sends in parallel (a short one
// and a longer one), as apply would report them. views' tmux test runs
// it in a tmux pane and reads the screen.
package main

import (
	"errors"
	"os"
	"sync"
	"time"

	"github.com/zplan/zplan/apply"
	"github.com/zplan/zplan/plan"
	"github.com/zplan/zplan/views"
)

func main() {
	p := views.NewProgress(os.Stdout, os.Stderr, true)
	p.ErrorsOnTerminal(true)
	snap := &plan.Action{Address: `snapshot.src["tank@zplan_20261122T120000Z"]`, Kind: plan.KindSnapshot}
	p.Report(apply.Event{Kind: apply.EventStart, Action: snap})
	p.Report(apply.Event{Kind: apply.EventDone, Action: snap})

	short := &plan.Action{Address: `send.src["tank/data"]`, Kind: plan.KindSendFull, Estimate: 4 << 20}
	long := &plan.Action{Address: `send.src["tank/data/home"]`, Kind: plan.KindSendIncremental, Estimate: 24 << 20}
	var wg sync.WaitGroup
	for _, s := range []struct {
		a   *plan.Action
		dur time.Duration
	}{{short, 3 * time.Second}, {long, 9 * time.Second}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.Report(apply.Event{Kind: apply.EventStart, Action: s.a})
			const tick = 50 * time.Millisecond
			steps := int64(s.dur / tick)
			for i := int64(1); i <= steps; i++ {
				time.Sleep(tick)
				p.Report(apply.Event{Kind: apply.EventProgress, Action: s.a, Bytes: s.a.Estimate * i / steps})
			}
			p.Report(apply.Event{Kind: apply.EventDone, Action: s.a})
		}()
	}
	wg.Wait()
	hold := &plan.Action{Address: `hold.dst["backup/src/data@zplan_20261122T120000Z"]`, Kind: plan.KindHold}
	p.Report(apply.Event{Kind: apply.EventStart, Action: hold})
	p.Report(apply.Event{Kind: apply.EventFailed, Action: hold, Err: errors.New("demo failure")})
	p.Close()
	os.Stdout.WriteString("progressdemo finished\n")
}
