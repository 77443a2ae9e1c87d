package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"

	"github.com/trustyclaw/trustyclaw/hostd/logging"
	"github.com/trustyclaw/trustyclaw/hostd/proxy"
	"github.com/trustyclaw/trustyclaw/hostd/proxy/ca"
	"github.com/trustyclaw/trustyclaw/hostd/proxy/service"
)

// runProxy runs the enforcing proxy service (host mode): policy, pins,
// event log and CA in --state-dir, listening on --listen. Dev upstreams
// and dev CAs exist only in `hostd dev`; this command has no flag for
// them.
func runProxy(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hostd proxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	stateDir := fs.String("state-dir", service.DefaultStateDir, "proxy state directory (policy, pins, network events, CA)")
	listen := fs.String("listen", service.DefaultListen, "listen address")
	publishCA := fs.String("publish-ca-cert", "", "also write the public proxy CA certificate (PEM) to this path")
	maxConns := fs.Int("max-conns", proxy.DefaultLimits().MaxConns, "concurrent client connections")
	budgetMiB := fs.Int64("memory-budget-mib", proxy.DefaultLimits().MemoryBudget>>20, "MiB all connections may buffer together")
	console := fs.Bool("log-console", false, "human-readable logs instead of JSON lines")
	debug := fs.Bool("debug", false, "log every decision, not only denials")
	printCA := fs.Bool("print-ca-cert", false, "create the CA if missing, print its public certificate (PEM) and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	if err := refuseRoot("hostd proxy", "trustyclaw-proxy"); err != nil {
		return err
	}
	if *printCA {
		// For the bootstrap (as the proxy user): the agents' trust store
		// needs the certificate before the service first runs.
		if err := os.MkdirAll(*stateDir, 0o700); err != nil {
			return fmt.Errorf("create proxy state dir: %w", err)
		}
		auth, err := ca.LoadOrCreate(*stateDir, time.Now())
		if err != nil {
			return err
		}
		_, err = stdout.Write(auth.CertPEM())
		return err
	}
	level := zerolog.InfoLevel
	if *debug {
		level = zerolog.DebugLevel
	}
	log := logging.New(logging.Options{Writer: stderr, Console: *console, Level: level})
	lim := proxy.DefaultLimits()
	lim.MaxConns = *maxConns
	lim.MemoryBudget = *budgetMiB << 20
	svc, err := service.Open(ctx, service.Options{
		StateDir:      *stateDir,
		Listen:        *listen,
		PublishCACert: *publishCA,
		Limits:        lim,
		Logger:        log,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "proxy listening on %s\n", svc.Addr())
	return svc.Run(ctx)
}
