package main

import (
	"context"
	"errors"
	"io"
)

// runProxy runs the enforcing proxy service (host mode).
func runProxy(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return errors.New("not built yet")
}
