package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
)

// helperFunc runs one root-owned helper. Each helper documents its stdin /
// stdout / argument contract in docs/helpers.md and accepts nothing else.
type helperFunc func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error

// helpers collects every helper; each group lives in its own file.
func helpers() map[string]helperFunc {
	all := map[string]helperFunc{}
	for _, group := range []map[string]helperFunc{networkHelpers(), runtimeHelpers(), hostHelpers()} {
		for name, fn := range group {
			all[name] = fn
		}
	}
	return all
}

func runHelper(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	all := helpers()
	if len(args) == 0 {
		return fmt.Errorf("%w: hostd helper NAME [args]; names: %s", errUsage, helperNames(all))
	}
	fn, ok := all[args[0]]
	if !ok {
		return fmt.Errorf("%w: unknown helper %q; names: %s", errUsage, args[0], helperNames(all))
	}
	return fn(ctx, args[1:], stdin, stdout, stderr)
}

func helperNames(all map[string]helperFunc) string {
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
