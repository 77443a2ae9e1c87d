package proxystate

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/netstate"
	"github.com/trustyclaw/trustyclaw/hostd/policy"
)

// Helper names (docs/helpers.md).
const (
	HelperUpdatePolicy  = "update-network-policy"
	HelperReadState     = "read-network-state"
	HelperUpdateAccount = "update-provider-account"
)

// Stdout shapes of the network helpers. Each helper prints exactly one
// JSON object: the result, or on failure a wireError (and exits 1).
type (
	wirePolicyDoc struct {
		Policy    *policy.Policy `json:"policy"`
		UpdatedAt *time.Time     `json:"updated_at,omitempty"`
		Error     string         `json:"error,omitempty"`
	}
	wireStatus struct {
		PolicyValid bool   `json:"policy_valid"`
		PolicyError string `json:"policy_error,omitempty"`
	}
	wireEvents struct {
		Events []netstate.Event `json:"events"`
	}
	wirePinResult struct {
		Provider string `json:"provider"`
		Pinned   bool   `json:"pinned"`
	}
	wireError struct {
		Error wireErrorBody `json:"error"`
	}
	wireErrorBody struct {
		Code    string `json:"code"`
		Field   string `json:"field,omitempty"`
		Message string `json:"message"`
	}
)

// Error codes of wireErrorBody.
const (
	codeInvalidPolicy   = "invalid_policy"
	codeBusy            = "busy"
	codeNewerSchema     = "newer_schema"
	codeInvalidArgument = "invalid_argument"
	codeFailed          = "failed"
)

func docToWire(doc netstate.PolicyDoc) wirePolicyDoc {
	w := wirePolicyDoc{Policy: doc.Policy, Error: doc.Error}
	if !doc.UpdatedAt.IsZero() {
		t := doc.UpdatedAt
		w.UpdatedAt = &t
	}
	return w
}

func (w wirePolicyDoc) toDoc() netstate.PolicyDoc {
	doc := netstate.PolicyDoc{Policy: w.Policy, Error: w.Error}
	if w.UpdatedAt != nil {
		doc.UpdatedAt = *w.UpdatedAt
	}
	return doc
}

// argError is a helper invoked with arguments outside its contract.
type argError struct{ msg string }

func (e *argError) Error() string { return e.msg }

func badArgs(format string, a ...any) error { return &argError{msg: fmt.Sprintf(format, a...)} }

// errorToWire classifies err for the helper's stdout.
func errorToWire(err error) wireError {
	var ve *policy.ValidationError
	var ae *argError
	switch {
	case errors.As(err, &ve):
		return wireError{wireErrorBody{Code: codeInvalidPolicy, Field: ve.Field, Message: ve.Message}}
	case errors.Is(err, netstate.ErrBusy):
		return wireError{wireErrorBody{Code: codeBusy, Message: err.Error()}}
	case errors.Is(err, ErrNewerSchema):
		return wireError{wireErrorBody{Code: codeNewerSchema, Message: err.Error()}}
	case errors.As(err, &ae):
		return wireError{wireErrorBody{Code: codeInvalidArgument, Message: err.Error()}}
	}
	return wireError{wireErrorBody{Code: codeFailed, Message: err.Error()}}
}

// wireToError turns a helper's structured error back into the error the
// netstate.Client contract promises.
func wireToError(helper string, b wireErrorBody) error {
	switch b.Code {
	case codeInvalidPolicy:
		return &policy.ValidationError{Field: b.Field, Message: b.Message}
	case codeBusy:
		return netstate.ErrBusy
	case codeNewerSchema:
		return fmt.Errorf("helper %s: %s: %w", helper, b.Message, ErrNewerSchema)
	}
	return fmt.Errorf("helper %s failed (%s): %s", helper, b.Code, b.Message)
}

func decodeWire(helper string, out []byte, dst any) error {
	if err := json.Unmarshal(out, dst); err != nil {
		return fmt.Errorf("helper %s printed unexpected output: %w", helper, err)
	}
	return nil
}
