// Package cli implements the splinter command line: one file per
// subcommand. It parses flags, calls the packages that do the work, and maps
// errors onto exit codes (0 success, 1 failure, 2 bad input). It owns no
// logic of its own beyond presentation.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/splinter-lab/splinter/lab"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitInput   = 2
)

// inputError marks an error caused by bad input (a flag, a file): exit 2.
type inputError struct{ err error }

func (e inputError) Error() string { return e.err.Error() }
func (e inputError) Unwrap() error { return e.err }

func badInput(format string, args ...any) error {
	return inputError{fmt.Errorf(format, args...)}
}

// exitCode is an error that makes Run return its code silently: the exit
// status of a program splinter ran for the user.
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit status %d", int(c)) }

// env is what a subcommand gets.
type env struct {
	ctx    context.Context
	stdout io.Writer
	stderr io.Writer
}

type command struct {
	summary string
	run     func(e *env, args []string) error
}

var commands = map[string]command{}

func register(name, summary string, run func(e *env, args []string) error) {
	commands[name] = command{summary: summary, run: run}
}

// Run runs the splinter command line with args (without the program name)
// and returns the process exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitInput
		}
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "splinter: unknown command %q\n", args[0])
		usage(stderr)
		return exitInput
	}
	err := cmd.run(&env{ctx: ctx, stdout: stdout, stderr: stderr}, args[1:])
	var code exitCode
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &code):
		return int(code)
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case isInput(err):
		fmt.Fprintf(stderr, "splinter %s: %v\n", args[0], err)
		return exitInput
	default:
		fmt.Fprintf(stderr, "splinter %s: %v\n", args[0], err)
		return exitFailure
	}
}

func isInput(err error) bool {
	var ie inputError
	return errors.As(err, &ie) || lab.IsInput(err)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: splinter <command> [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'splinter <command> -h' for a command's flags.")
}

// flags returns a FlagSet for a subcommand that writes its usage to stderr
// and reports errors as bad input.
func flags(e *env, name, args string) *flag.FlagSet {
	fs := flag.NewFlagSet("splinter "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: splinter %s %s\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, turning flag errors into input errors.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return inputError{err}
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
