package remote

import (
	"strings"
)

// remoteCommandLine is what sshd hands to the user's login shell. The
// login shell may be csh or fish, so it only gets an exec of /bin/sh with
// one single-quoted word (a syntax they share); /bin/sh then prints its
// PID and execs the command, through env(1) when it has variables (env
// execs in turn, so the PID stays the command's).
func remoteCommandLine(env, argv []string) string {
	if len(env) > 0 {
		argv = append(append([]string{"env"}, env...), argv...)
	}
	return "exec /bin/sh -c " + ShellQuote(pidMarkerCmd+ShellCommand(argv))
}

// ShellCommand turns argv into a command line for a POSIX remote shell:
// every word is quoted, and exec replaces the shell so that signals and
// the exit status are the command's own.
func ShellCommand(argv []string) string {
	var b strings.Builder
	b.WriteString("exec")
	for _, w := range argv {
		b.WriteByte(' ')
		b.WriteString(ShellQuote(w))
	}
	return b.String()
}

// ShellQuote quotes s as one word for a POSIX shell. Words made only of
// safe characters are left bare for readable logs; anything else is put in
// single quotes, with each ' written as '\”.
func ShellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("@%+=:,./_-", c) >= 0) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
