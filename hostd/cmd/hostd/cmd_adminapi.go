package main

import (
	"context"
	"errors"
	"io"
)

// runAdminAPI runs the admin API service (host mode).
func runAdminAPI(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return errors.New("not built yet")
}
