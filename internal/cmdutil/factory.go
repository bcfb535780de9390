// Package cmdutil is what zplan's commands (internal/cmd/...) share: the
// factory they are built from, exit codes, the flags several commands
// take, and the session of a loaded configuration with its hosts open.
package cmdutil

import (
	"context"
	"fmt"

	"github.com/zplan/zplan/hclspec"
	"github.com/zplan/zplan/iostreams"
	"github.com/zplan/zplan/remote"
	"github.com/zplan/zplan/views"
)

// ExitCode is zplan's exit status.
type ExitCode int

const (
	ExitOK          ExitCode = 0  // done; no changes (or changes without -detailed-exitcode)
	ExitError       ExitCode = 1  // an error, conflicts, a refused or cancelled apply
	ExitChanges     ExitCode = 2  // -detailed-exitcode: the plan has changes, drift was found
	ExitUnformatted ExitCode = 3  // fmt -check: a file needs formatting
	ExitCrash       ExitCode = 11 // zplan panicked: never mistaken for a plan
)

// CodeError ends a command with Code; what went wrong has already been
// shown.
type CodeError struct{ Code ExitCode }

func (e CodeError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

var (
	ErrFailed      = CodeError{ExitError}       // reported already; exit 1
	ErrChanges     = CodeError{ExitChanges}     // -detailed-exitcode with changes
	ErrUnformatted = CodeError{ExitUnformatted} // fmt -check with work to do
)

// UsageError is a command line zplan cannot run (conflicting flags).
type UsageError struct{ Msg string }

func (e UsageError) Error() string { return e.Msg }

// ConnectFunc opens the hosts of a configuration.
type ConnectFunc func(ctx context.Context, cfg *hclspec.Config) (map[string]remote.Host, func(), error)

// Factory is what every command is built from: the streams, the version,
// how to load the configuration and how to reach hosts (tests pass
// in-memory hosts).
type Factory struct {
	IO      *iostreams.IOStreams
	Version string
	Connect ConnectFunc
	Getenv  func(string) string
	// AfterPlan, when set, runs after a plan is computed (tests force a
	// crash with it).
	AfterPlan func()
}

// LoadConfig loads the configuration c names, writes its diagnostics
// to stderr and fails (ErrFailed) on errors.
func (f *Factory) LoadConfig(c *ConfigFlags) (*hclspec.Config, error) { return c.Load(f.IO) }

// View is the base view; build it after -no-color is read.
func (f *Factory) View() *views.View { return views.New(f.IO, f.Version) }
