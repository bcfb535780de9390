package views

import (
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"github.com/vbauerster/cupwriter"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/zplan/zplan/plan"
)

// Rates and ETAs on a terminal: the rate is an exponentially weighted
// moving average over about rateWindow of progress; an ETA is shown only
// once a send has run etaAfter and its rate stayed within etaSteady of
// what it was etaCheck before.
const (
	rateWindow = 5 * time.Second
	etaAfter   = 5 * time.Second
	etaCheck   = time.Second
	etaSteady  = 0.25
	barRefresh = 250 * time.Millisecond
)

// meter is the moving-window rate of one stream of bytes.
type meter struct {
	start, last time.Time
	bytes       int64
	rate        float64 // bytes/s, EWMA
	checked     time.Time
	checkedRate float64
	steady      bool
}

func (m *meter) add(now time.Time, bytes int64) {
	if m.last.IsZero() {
		m.last, m.checked = m.start, m.start
	}
	dt := now.Sub(m.last).Seconds()
	if dt <= 0 {
		m.bytes = max(m.bytes, bytes)
		return
	}
	inst := float64(bytes-m.bytes) / dt
	if m.rate == 0 && m.checkedRate == 0 {
		m.rate = inst
	} else {
		m.rate += (1 - math.Exp(-dt/rateWindow.Seconds())) * (inst - m.rate)
	}
	m.bytes, m.last = bytes, now
	if now.Sub(m.checked) >= etaCheck {
		m.steady = m.checkedRate > 0 && math.Abs(m.rate-m.checkedRate) <= etaSteady*m.checkedRate
		m.checked, m.checkedRate = now, m.rate
	}
}

// stalled says no bytes came for a while: the rate then decays as if
// zero-byte samples had come, and there is no ETA.
func (m *meter) stalled(now time.Time) bool { return !m.last.IsZero() && now.Sub(m.last) > 2*etaCheck }

// rateAt is the moving-window rate at now.
func (m *meter) rateAt(now time.Time) float64 {
	if !m.stalled(now) {
		return m.rate
	}
	return m.rate * math.Exp(-now.Sub(m.last).Seconds()/rateWindow.Seconds())
}

// eta is how long the rest of total takes, when it means something.
func (m *meter) eta(now time.Time, total int64) (time.Duration, bool) {
	if total <= m.bytes || m.rate <= 0 || !m.steady || now.Sub(m.start) < etaAfter || m.stalled(now) {
		return 0, false
	}
	return (time.Duration(float64(total-m.bytes)/m.rate) * time.Second).Round(time.Second), true
}

// send is one running send's bar.
type send struct {
	addr     string
	estimate int64
	m        meter
	bar      *mpb.Bar
}

// terminalBars draws one mpb bar per running send and a total bar under
// them; lines printed while bars are drawn go above them. The container
// lives while sends run and is shut down (bars gone, cursor under the
// last line) when the last one ends.
type terminalBars struct {
	w   io.Writer
	now func() time.Time

	mu        sync.Mutex // guards what the decorators read
	sends     map[string]*send
	doneBytes int64 // of the sends that ended
	doneEst   int64

	cw    *cupwriter.Writer
	p     *mpb.Progress
	total *mpb.Bar
}

func newTerminalBars(w io.Writer, now func() time.Time) *terminalBars {
	return &terminalBars{w: w, now: now, sends: map[string]*send{}}
}

func (t *terminalBars) live() bool { return t.p != nil }

func (t *terminalBars) idle() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.sends) == 0
}

func (t *terminalBars) println(s string) { fmt.Fprintln(t.p, s) }

func (t *terminalBars) open() {
	// The caller (iostreams) has decided w is a terminal. The console
	// writer is ours so that close can flush what the last frame left.
	t.cw = cupwriter.New(t.w, true)
	t.p = mpb.New(mpb.WithConsoleWriter(t.cw), mpb.WithAutoRefresh(), mpb.WithRefreshRate(barRefresh))
	t.total = t.p.New(0, mpb.BarStyle().Lbound("[").Filler("=").Tip(">").Padding(" ").Rbound("]"),
		mpb.BarPriority(math.MaxInt32), mpb.BarWidth(20), mpb.BarFillerClearOnComplete(),
		mpb.PrependDecorators(decor.Any(func(decor.Statistics) string { return t.totalName() }, decor.WCSyncSpaceR)),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return t.totalStatus() })))
}

// progress moves a's bar to bytes (opening it and the container first).
func (t *terminalBars) progress(a *plan.Action, bytes int64, started time.Time) {
	if t.p == nil {
		t.open()
	}
	now := t.now()
	t.mu.Lock()
	s, ok := t.sends[a.Address]
	if !ok {
		s = &send{addr: a.Address, estimate: a.Estimate, m: meter{start: started}}
		t.sends[a.Address] = s
	}
	s.m.add(now, bytes)
	total, est := t.totals()
	t.mu.Unlock()
	if !ok {
		s.bar = t.p.New(max(a.Estimate, 0), mpb.BarStyle().Lbound("[").Filler("=").Tip(">").Padding(" ").Rbound("]"),
			mpb.BarWidth(20), mpb.BarRemoveOnComplete(),
			mpb.PrependDecorators(decor.Name(a.Address, decor.WCSyncSpaceR)),
			mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return t.sendStatus(s) })))
	}
	if a.Estimate > 0 && bytes > a.Estimate {
		s.bar.SetTotal(bytes, false) // estimates are estimates
	}
	s.bar.SetCurrent(bytes)
	t.total.SetTotal(max(est, total), false)
	t.total.SetCurrent(total)
}

// totals is the bytes sent and estimated of every send so far (t.mu).
func (t *terminalBars) totals() (bytes, est int64) {
	bytes, est = t.doneBytes, t.doneEst
	for _, s := range t.sends {
		bytes += s.m.bytes
		est += max(s.estimate, s.m.bytes)
	}
	return bytes, est
}

// end takes a's bar off (a send that ended, ok or not).
func (t *terminalBars) end(a *plan.Action, ok bool) {
	t.mu.Lock()
	s := t.sends[a.Address]
	if s != nil {
		delete(t.sends, a.Address)
		t.doneBytes += s.m.bytes
		t.doneEst += s.m.bytes
		if !ok {
			t.doneEst += max(s.estimate-s.m.bytes, 0) // never sent
		}
	}
	t.mu.Unlock()
	if s == nil {
		return
	}
	if ok {
		s.bar.SetTotal(-1, true) // complete: removed from the screen
	} else {
		s.bar.Abort(true)
	}
	s.bar.Wait()
}

// close ends the total bar and the container: the bars disappear and
// what was printed stays.
func (t *terminalBars) close() {
	if t.p == nil {
		return
	}
	t.mu.Lock()
	sends := t.sends
	t.sends = map[string]*send{}
	t.mu.Unlock()
	for _, s := range sends {
		s.bar.Abort(true)
	}
	t.total.Abort(true)
	t.p.Wait()
	// mpb renders lines written above the bars with the next frame, and
	// there is none after Wait when the bars were dropped first: flush
	// them (and the erasing of the last frame) now.
	_ = t.cw.Flush(0)
	t.p, t.total, t.cw = nil, nil, nil
}

func (t *terminalBars) sendStatus(s *send) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return status(s.m.bytes, s.estimate, s.m.rateAt(t.now()), func() (time.Duration, bool) { return s.m.eta(t.now(), s.estimate) })
}

func (t *terminalBars) totalName() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return fmt.Sprintf("total (%d running)", len(t.sends))
}

func (t *terminalBars) totalStatus() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	bytes, est := t.totals()
	var rate float64
	var left time.Duration
	known := len(t.sends) > 0
	for _, s := range t.sends {
		rate += s.m.rateAt(t.now())
		d, ok := s.m.eta(t.now(), s.estimate)
		known = known && ok
		left = max(left, d)
	}
	return status(bytes, est, rate, func() (time.Duration, bool) { return left, known })
}

// status is "1.0 MiB / ~4.0 MiB 25% 51.2 KiB/s" and ", ETA 1m0s" when
// eta knows it.
func status(bytes, est int64, rate float64, eta func() (time.Duration, bool)) string {
	line := plan.HumanBytes(bytes)
	if est > 0 {
		line += fmt.Sprintf(" / ~%s %3.0f%%", plan.HumanBytes(est), min(100*float64(bytes)/float64(est), 100))
	}
	line += fmt.Sprintf(", %s/s", plan.HumanBytes(int64(rate)))
	if d, ok := eta(); ok {
		line += ", ETA " + d.String()
	}
	return line
}
