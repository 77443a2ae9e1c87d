// Command hostd is the one TrustyClaw host binary.
//
//	hostd dev [flags]            the whole host in one process (local mode)
//	hostd admin-api [flags]      the admin API + orchestrator service (host mode)
//	hostd proxy [flags]          the enforcing network proxy service (host mode)
//	hostd helper NAME [args]     one root-owned sudo helper (host mode)
//
// Each subcommand lives in its own file of this package; main only
// dispatches, sets up signal handling and maps errors to exit codes.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/trustyclaw/trustyclaw/hostd/app"
)

// errUsage marks a command-line mistake (exit code 2); the same error as
// app.ErrUsage so a usage error found while starting up exits 2 as well.
var errUsage = app.ErrUsage

// errHelp: the user asked for a subcommand's help, which was printed (exit 0).
var errHelp = errors.New("help requested")

type command struct {
	name  string
	usage string
	run   func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"dev", "run the whole host locally (see docs/local-mode.md)", runDev},
		{"admin-api", "run the admin API service (host mode)", runAdminAPI},
		{"proxy", "run the enforcing network proxy (host mode)", runProxy},
		{"helper", "run one root-owned helper: hostd helper NAME [args]", runHelper},
		{"hash-password", "hash the admin password read from stdin into a file (bootstrap)", runHashPassword},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdin, stdout, stderr)
		switch {
		case err == nil, errors.Is(err, errHelp):
			return 0
		case errors.Is(err, errUsage):
			fmt.Fprintf(stderr, "hostd %s: %v\n", c.name, err)
			return 2
		default:
			fmt.Fprintf(stderr, "hostd %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "hostd: unknown command %q\n", args[0])
	printUsage(stderr)
	return 2
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: hostd COMMAND [flags]")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.usage)
	}
}
