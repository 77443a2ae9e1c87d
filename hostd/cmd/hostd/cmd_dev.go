package main

import (
	"context"
	"errors"
	"io"
)

// runDev runs the whole host in one process (docs/local-mode.md).
func runDev(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return errors.New("not built yet")
}
