package proxystate

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/trustyclaw/trustyclaw/hostd/netstate"
	"github.com/trustyclaw/trustyclaw/hostd/policy"
)

// maxPinInput bounds update-provider-account's stdin.
const maxPinInput = 4 << 10

// RunHelper runs one network helper against d, after the caller has fixed
// the state directory and demoted to the proxy user. It prints exactly
// one JSON object to stdout: the result, or {"error":{...}} on failure, in
// which case it also returns the error (the command exits non-zero).
//
// The contract (docs/helpers.md):
//
//	update-network-policy                 stdin: policy JSON (≤ 1 MiB)
//	read-network-state policy|status|pins
//	read-network-state events SINCE LIMIT  SINCE ≥ 0, 1 ≤ LIMIT ≤ 1000
//	update-provider-account openai|claude  stdin: the value ("" clears)
func RunHelper(ctx context.Context, d *Dir, name string, args []string, stdin io.Reader, stdout io.Writer) error {
	result, err := runHelper(ctx, d, name, args, stdin)
	if err != nil {
		if werr := writeJSON(stdout, errorToWire(err)); werr != nil {
			return fmt.Errorf("%w (and writing the error failed: %v)", err, werr)
		}
		return err
	}
	return writeJSON(stdout, result)
}

// WriteHelperError prints err as a helper's one JSON error object, for
// failures before RunHelper is reached (demotion, a missing state
// directory), so a helper always prints exactly one JSON object.
func WriteHelperError(w io.Writer, err error) error { return writeJSON(w, errorToWire(err)) }

func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode helper output: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func runHelper(ctx context.Context, d *Dir, name string, args []string, stdin io.Reader) (any, error) {
	switch name {
	case HelperUpdatePolicy:
		if len(args) != 0 {
			return nil, badArgs("%s takes no arguments (the policy comes on stdin)", name)
		}
		raw, err := readCapped(stdin, policy.MaxPolicyBytes)
		if err != nil {
			return nil, err
		}
		doc, err := d.ReplacePolicy(ctx, raw)
		if err != nil {
			return nil, err
		}
		return docToWire(doc), nil
	case HelperReadState:
		return readState(ctx, d, args)
	case HelperUpdateAccount:
		if len(args) != 1 || (args[0] != netstate.ProviderOpenAI && args[0] != netstate.ProviderClaude) {
			return nil, badArgs("usage: %s openai|claude (the value comes on stdin, never on argv)", name)
		}
		raw, err := readCapped(stdin, maxPinInput)
		if err != nil {
			return nil, err
		}
		value := strings.TrimRight(string(raw), "\r\n")
		if _, err := NormalizePin(args[0], value); err != nil {
			return nil, badArgs("%v", err) // the caller's value, not the state, is wrong
		}
		if err := d.SetPin(ctx, args[0], value); err != nil {
			return nil, err
		}
		return wirePinResult{Provider: args[0], Pinned: value != ""}, nil
	}
	return nil, badArgs("unknown network helper %q", name)
}

var (
	sinceArg = regexp.MustCompile(`^(0|[1-9][0-9]{0,17})$`)
	limitArg = regexp.MustCompile(`^[1-9][0-9]{0,3}$`)
)

func readState(ctx context.Context, d *Dir, args []string) (any, error) {
	usage := badArgs("usage: %s policy | status | pins | events SINCE LIMIT", HelperReadState)
	if len(args) == 0 {
		return nil, usage
	}
	switch {
	case args[0] == "policy" && len(args) == 1:
		return docToWire(d.ReadPolicy()), nil
	case args[0] == "status" && len(args) == 1:
		st := wireStatus{PolicyValid: true}
		if err := d.Validity(); err != nil {
			st.PolicyValid, st.PolicyError = false, err.Error()
		}
		return st, nil
	case args[0] == "pins" && len(args) == 1:
		return d.ReadPins()
	case args[0] == "events" && len(args) == 3:
		if !sinceArg.MatchString(args[1]) {
			return nil, badArgs("SINCE must be a decimal integer >= 0, got %q", args[1])
		}
		if !limitArg.MatchString(args[2]) {
			return nil, badArgs("LIMIT must be a decimal integer from 1 to %d, got %q", MaxEventsPage, args[2])
		}
		since, _ := strconv.ParseInt(args[1], 10, 64)
		limit, _ := strconv.Atoi(args[2])
		if limit > MaxEventsPage {
			return nil, badArgs("LIMIT must be at most %d, got %d", MaxEventsPage, limit)
		}
		evs, err := ReadEvents(ctx, filepath.Join(d.path, EventsFileName), since, limit)
		if err != nil {
			return nil, err
		}
		return wireEvents{Events: evs}, nil
	}
	return nil, usage
}

func readCapped(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read stdin: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, badArgs("stdin is larger than %d bytes", limit)
	}
	return b, nil
}
