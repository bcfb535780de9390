package remote

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
)

// Values a hook's environment carries: dataset names with spaces and
// newlines, and shell syntax that must stay text.
const envTestValue = "tank/my data\ntank/it's $(touch /tmp/x) `id`;"

func TestRemoteCommandLineEnv(t *testing.T) {
	line := remoteCommandLine([]string{"ZPLAN_DATASETS=" + envTestValue}, []string{"/bin/sh", "-c", `printf %s "$ZPLAN_DATASETS"`})
	// sshd hands the line to the login shell; /bin/sh stands in for it.
	var out, errb bytes.Buffer
	cmd := exec.Command("/bin/sh", "-c", line)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %s", err, errb.String())
	}
	if out.String() != envTestValue {
		t.Fatalf("got %q, want %q", out.String(), envTestValue)
	}
}

func TestLocalEnv(t *testing.T) {
	l := NewLocal("here")
	var out bytes.Buffer
	err := l.Run(context.Background(), Cmd{Argv: []string{"/bin/sh", "-c", `printf %s "$ZPLAN_DATASETS"`}, Env: []string{"ZPLAN_DATASETS=" + envTestValue}, Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != envTestValue {
		t.Fatalf("got %q", out.String())
	}
}

func TestEnvRefused(t *testing.T) {
	l := NewLocal("here")
	for _, c := range []Cmd{
		{Argv: []string{"/bin/true"}, Env: []string{"NOEQUALS"}},
		{Argv: []string{"/bin/true"}, Env: []string{"1X=a"}},
		{Argv: []string{"/bin/true"}, Env: []string{"A B=a"}},
		{Argv: []string{"/bin/true"}, Env: []string{"A=a\x00b"}},
		{Argv: []string{"/bin/a=b"}, Env: []string{"A=a"}},
	} {
		if err := l.Run(context.Background(), c); err == nil || !strings.Contains(err.Error(), "environment") && !strings.Contains(err.Error(), "cannot follow") {
			t.Errorf("%q %q: got %v, want a refusal", c.Env, c.Argv, err)
		}
	}
}
