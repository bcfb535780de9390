package plan

import (
	"errors"
	"fmt"
	"sort"
)

// CheckShape reports a field the action's kind needs that is missing:
// apply indexes Snapshots[0] and dereferences Send, so an action read
// from a file must have them before anything runs. It says nothing about
// whether the configuration could have produced the action (see
// planfile.Validate).
func (a *Action) CheckShape() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("action %s (%s): %s", a.Address, a.Kind, fmt.Sprintf(format, args...))
	}
	if a.Address == "" {
		return fmt.Errorf("action of kind %s without an address", a.Kind)
	}
	if !a.Kind.Known() {
		return bad("unknown kind")
	}
	if a.Host == "" || a.Dataset == "" {
		return bad("no host or dataset")
	}
	if a.Kind.IsSend() != (a.Send != nil) {
		if a.Send == nil {
			return bad("no send")
		}
		return bad("send details on an action that does not send")
	}
	info, _ := a.Kind.Info()
	switch need := info.Needs; {
	case need&NeedOneSnapshot != 0 && (len(a.Snapshots) != 1 || a.Snapshots[0].Name == ""):
		return bad("needs exactly one snapshot name")
	case need&NeedSnapshots != 0 && len(a.Snapshots) == 0:
		return bad("no snapshots")
	case need&NeedDatasets != 0 && len(a.Datasets) == 0:
		return bad("needs at least one dataset")
	case need&NeedTag != 0 && a.Tag == "":
		return bad("no hold tag")
	case need&NeedBookmark != 0 && a.Bookmark == "":
		return bad("no bookmark or snapshot name")
	case need&NeedProperties != 0 && len(a.Properties) == 0:
		return bad("no properties")
	}
	if s := a.Send; s != nil {
		if s.Edge == "" || s.SourceHost == "" || s.SourceDataset == "" || s.TargetHost == "" || s.TargetDataset == "" || s.To == "" {
			return bad("send without edge, source, target or snapshot")
		}
		if (a.Kind == KindSendResume) != (s.Token != "") {
			return bad("a resume token goes with send_resume, and only with it")
		}
		if a.Kind == KindSendFull && s.From != "" || a.Kind == KindSendIncremental && s.From == "" {
			return bad("from %q does not fit the kind", s.From)
		}
	}
	for _, s := range a.Snapshots {
		if s.Name == "" {
			return bad("a snapshot without a name")
		}
	}
	if len(a.Hooks) > 0 && a.Kind != KindSnapshot {
		return bad("hooks on an action that does not snapshot")
	}
	for _, h := range a.Hooks {
		if len(h.Pre) == 0 && len(h.Post) == 0 || len(h.Pre) > 0 && h.Pre[0] == "" || len(h.Post) > 0 && h.Post[0] == "" {
			return bad("hook %q without a command", h.Name)
		}
		if _, err := h.TimeoutDuration(); err != nil {
			return bad("%v", err)
		}
		if h.OnPreFailure != PreFailureSkip && h.OnPreFailure != PreFailureContinue {
			return bad("hook %q: on_pre_failure %q", h.Name, h.OnPreFailure)
		}
	}
	return nil
}

// CheckGraph reports duplicate addresses, dependencies on actions the
// plan does not have and dependency cycles: apply would wait forever on
// either of the last two.
func (p *Plan) CheckGraph() []error {
	var errs []error
	byAddr := map[string]*Action{}
	for _, a := range p.Actions {
		if a == nil {
			errs = append(errs, errors.New("a null action"))
			continue
		}
		if byAddr[a.Address] != nil {
			errs = append(errs, fmt.Errorf("duplicate action address %s", a.Address))
		}
		byAddr[a.Address] = a
	}
	for _, a := range p.Actions {
		if a == nil {
			continue
		}
		for _, d := range a.DependsOn {
			if byAddr[d] == nil {
				errs = append(errs, fmt.Errorf("action %s depends on unknown %s", a.Address, d))
			}
		}
	}
	// Iterative colouring: a crafted file may be deep enough to make a
	// recursive walk costly.
	const (
		white = iota
		grey
		black
	)
	colour := map[string]int{}
	addrs := make([]string, 0, len(byAddr))
	for k := range byAddr {
		addrs = append(addrs, k)
	}
	sort.Strings(addrs)
	type frame struct {
		a *Action
		i int
	}
	for _, start := range addrs {
		if colour[start] != white {
			continue
		}
		stack := []frame{{a: byAddr[start]}}
		colour[start] = grey
		for len(stack) > 0 {
			f := &stack[len(stack)-1]
			if f.i == len(f.a.DependsOn) {
				colour[f.a.Address] = black
				stack = stack[:len(stack)-1]
				continue
			}
			d := f.a.DependsOn[f.i]
			f.i++
			dep := byAddr[d]
			if dep == nil {
				continue
			}
			switch colour[d] {
			case grey:
				errs = append(errs, fmt.Errorf("dependency cycle at %s", d))
				return errs
			case white:
				colour[d] = grey
				stack = append(stack, frame{a: dep})
			}
		}
	}
	return errs
}
