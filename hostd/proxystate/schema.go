package proxystate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrNewerSchema marks state written by a newer hostd. Such state is
// refused (the proxy denies all) and never rewritten, so a downgrade
// cannot silently destroy what the newer version stored.
var ErrNewerSchema = errors.New("state written by a newer hostd")

// checkVersion reads schema_version from a state file leniently, before
// the strict decode, so a newer file gets the clear error rather than an
// unknown-field complaint.
func checkVersion(name string, b []byte) error {
	var probe struct {
		V *json.Number `json:"schema_version"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return fmt.Errorf("%s is not valid JSON: %v", name, err)
	}
	if probe.V == nil {
		return fmt.Errorf("%s has no schema_version", name)
	}
	v, err := probe.V.Int64()
	if err != nil || v < 1 {
		return fmt.Errorf("%s has an invalid schema_version %s", name, probe.V.String())
	}
	if v > SchemaVersion {
		return fmt.Errorf("%s has schema_version %d but this hostd understands only up to %d; upgrade hostd (the file is left untouched): %w",
			name, v, SchemaVersion, ErrNewerSchema)
	}
	return nil
}

// decodeStrict decodes exactly one JSON value with no unknown fields.
func decodeStrict(name string, b []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%s: unexpected data after the JSON document", name)
	}
	return nil
}
