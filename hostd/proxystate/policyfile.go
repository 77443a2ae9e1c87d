package proxystate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/netstate"
	"github.com/trustyclaw/trustyclaw/hostd/policy"
)

// maxStateFileBytes bounds what is read from policy.json or pins.json: a
// maximal policy plus its envelope.
const maxStateFileBytes = policy.MaxPolicyBytes + 64<<10

// policyEnvelope is policy.json.
type policyEnvelope struct {
	SchemaVersion int             `json:"schema_version"`
	UpdatedAt     time.Time       `json:"updated_at"`
	Policy        json.RawMessage `json:"policy"`
}

// parsePolicyFile validates a stored policy.json completely.
func parsePolicyFile(b []byte) (*policy.Policy, time.Time, error) {
	if err := checkVersion(PolicyFileName, b); err != nil {
		return nil, time.Time{}, err
	}
	var env policyEnvelope
	if err := decodeStrict(PolicyFileName, b, &env); err != nil {
		return nil, time.Time{}, err
	}
	if len(env.Policy) == 0 {
		return nil, time.Time{}, fmt.Errorf("%s has no policy", PolicyFileName)
	}
	if env.UpdatedAt.IsZero() {
		return nil, time.Time{}, fmt.Errorf("%s has no updated_at", PolicyFileName)
	}
	p, err := policy.Parse(env.Policy)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("%s holds an invalid policy: %w", PolicyFileName, err)
	}
	return p, env.UpdatedAt, nil
}

func encodePolicyFile(p *policy.Policy, at time.Time) ([]byte, error) {
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode policy: %w", err)
	}
	b, err := marshalIndent(policyEnvelope{SchemaVersion: SchemaVersion, UpdatedAt: at, Policy: raw})
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", PolicyFileName, err)
	}
	return b, nil
}

// loadPolicy reads the live policy. A missing file is the empty policy of
// a fresh host (zero time); anything unreadable or invalid is an error.
func (d *Dir) loadPolicy() (*policy.Policy, time.Time, error) {
	b, err := readFileCapped(filepath.Join(d.path, PolicyFileName), maxStateFileBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return policy.Empty(), time.Time{}, nil
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("read %s: %w", PolicyFileName, err)
	}
	d.cacheMu.Lock()
	defer d.cacheMu.Unlock()
	if d.cachePolicy != nil && bytes.Equal(b, d.cacheRaw) {
		return d.cachePolicy, d.cacheAt, nil
	}
	p, at, err := parsePolicyFile(b)
	if err != nil {
		return nil, time.Time{}, err
	}
	d.cacheRaw, d.cachePolicy, d.cacheAt = b, p, at
	return p, at, nil
}

// ReadPolicy returns the live policy; when it is unreadable or invalid the
// doc has a nil Policy and Error says why.
func (d *Dir) ReadPolicy() netstate.PolicyDoc {
	p, at, err := d.loadPolicy()
	if err != nil {
		return netstate.PolicyDoc{Error: err.Error()}
	}
	return netstate.PolicyDoc{Policy: p, UpdatedAt: at}
}

// ReplacePolicy validates raw (operator-facing JSON) and swaps it in
// atomically. Validation failures are *policy.ValidationError; a
// replacement already running (in this process or another) gives
// netstate.ErrBusy at once; a live file from a newer schema is refused.
func (d *Dir) ReplacePolicy(ctx context.Context, raw []byte) (netstate.PolicyDoc, error) {
	p, err := policy.Parse(raw)
	if err != nil {
		return netstate.PolicyDoc{}, err
	}
	if _, err := policy.Compile(p); err != nil {
		return netstate.PolicyDoc{}, err
	}
	if !d.replaceMu.TryLock() {
		return netstate.PolicyDoc{}, netstate.ErrBusy
	}
	defer d.replaceMu.Unlock()
	lock, err := tryLock(filepath.Join(d.path, PolicyLockName))
	if err != nil {
		return netstate.PolicyDoc{}, err
	}
	defer lock.unlock()
	if b, err := readFileCapped(filepath.Join(d.path, PolicyFileName), maxStateFileBytes); err == nil {
		if verr := checkVersion(PolicyFileName, b); errors.Is(verr, ErrNewerSchema) {
			return netstate.PolicyDoc{}, fmt.Errorf("replace policy: %w", verr)
		}
	}
	if err := ctx.Err(); err != nil {
		return netstate.PolicyDoc{}, fmt.Errorf("replace policy: %w", err)
	}
	at := d.now().UTC()
	data, err := encodePolicyFile(p, at)
	if err != nil {
		return netstate.PolicyDoc{}, err
	}
	if err := writeFileAtomic(d.path, PolicyFileName, data, 0o600); err != nil {
		return netstate.PolicyDoc{}, fmt.Errorf("replace policy: %w", err)
	}
	return netstate.PolicyDoc{Policy: p, UpdatedAt: at}, nil
}
