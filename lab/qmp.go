package lab

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"time"
)

// qmp is a minimal client of QEMU's machine protocol (QMP) on a unix
// socket: enough to pause, save, resume and query a VM.
type qmp struct {
	c  net.Conn
	rd *bufio.Reader
}

func dialQMP(ctx context.Context, path string) (*qmp, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("lab: qmp: %w", err)
	}
	q := &qmp{c: c, rd: bufio.NewReader(c)}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	} else {
		_ = c.SetDeadline(time.Now().Add(time.Minute))
	}
	if _, err := q.read(); err != nil { // greeting
		c.Close()
		return nil, err
	}
	if _, err := q.do("qmp_capabilities", nil); err != nil {
		c.Close()
		return nil, err
	}
	return q, nil
}

func (q *qmp) Close() error { return q.c.Close() }

type qmpMsg struct {
	Return json.RawMessage `json:"return"`
	Error  *struct {
		Class string `json:"class"`
		Desc  string `json:"desc"`
	} `json:"error"`
	Event string `json:"event"`
	QMP   any    `json:"QMP"`
}

func (q *qmp) read() (*qmpMsg, error) {
	line, err := q.rd.ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("lab: qmp read: %w", err)
	}
	var m qmpMsg
	if err := json.Unmarshal(line, &m); err != nil {
		return nil, fmt.Errorf("lab: qmp: bad message %q: %w", line, err)
	}
	return &m, nil
}

// do runs one command and returns its "return" value; events are skipped.
func (q *qmp) do(cmd string, args any) (json.RawMessage, error) {
	req := map[string]any{"execute": cmd}
	if args != nil {
		req["arguments"] = args
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	if _, err := q.c.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("lab: qmp %s: %w", cmd, err)
	}
	for {
		m, err := q.read()
		if err != nil {
			return nil, err
		}
		if m.Event != "" {
			continue
		}
		if m.Error != nil {
			return nil, fmt.Errorf("lab: qmp %s: %s: %s", cmd, m.Error.Class, m.Error.Desc)
		}
		return m.Return, nil
	}
}

// status returns the VM's run state ("running", "paused", "inmigrate", ...).
func (q *qmp) status() (string, error) {
	r, err := q.do("query-status", nil)
	if err != nil {
		return "", err
	}
	var s struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(r, &s); err != nil {
		return "", fmt.Errorf("lab: qmp query-status: %w", err)
	}
	return s.Status, nil
}

// migrationStatus returns query-migrate's status ("active", "completed", "failed", ...).
func (q *qmp) migrationStatus() (string, string, error) {
	r, err := q.do("query-migrate", nil)
	if err != nil {
		return "", "", err
	}
	var s struct {
		Status string `json:"status"`
		Error  string `json:"error-desc"`
	}
	if err := json.Unmarshal(r, &s); err != nil {
		return "", "", fmt.Errorf("lab: qmp query-migrate: %w", err)
	}
	return s.Status, s.Error, nil
}
