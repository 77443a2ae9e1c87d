package codex

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"testing"
)

// schemaFile is the app-server protocol schema of the pinned Codex,
// recorded by `make codex-schema`.
const schemaFile = "testdata/app-server-schema-0.169.0/codex_app_server_protocol.schemas.json.gz"

// methodsIn lists the "method" enum values of one oneOf definition.
func methodsIn(t *testing.T, defs map[string]json.RawMessage, name string) map[string]bool {
	t.Helper()
	var d struct {
		OneOf []struct {
			Properties struct {
				Method struct {
					Enum []string `json:"enum"`
				} `json:"method"`
			} `json:"properties"`
		} `json:"oneOf"`
	}
	if err := json.Unmarshal(defs[name], &d); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	out := map[string]bool{}
	for _, o := range d.OneOf {
		for _, m := range o.Properties.Method.Enum {
			out[m] = true
		}
	}
	return out
}

// Every method the adapter sends, every notification it acts on and
// every server request it answers exists in the pinned version's schema,
// so a CLI upgrade that renames one fails here first.
func TestProtocolNamesExistInPinnedSchema(t *testing.T) {
	f, err := os.Open(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var bundle struct {
		Definitions map[string]json.RawMessage `json:"definitions"`
	}
	if err := json.Unmarshal(raw, &bundle); err != nil {
		t.Fatal(err)
	}
	check := func(def string, names ...string) {
		have := methodsIn(t, bundle.Definitions, def)
		for _, n := range names {
			if !have[n] {
				t.Errorf("%s lacks %q", def, n)
			}
		}
	}
	check("ClientRequest", "initialize", "account/read", "account/login/start", "account/login/cancel",
		"thread/start", "thread/resume", "turn/start", "turn/steer", "turn/interrupt")
	check("ClientNotification", "initialized")
	check("ServerNotification", "turn/started", "turn/completed", "item/completed", "error", "account/login/completed")
	check("ServerRequest", "item/commandExecution/requestApproval", "item/fileChange/requestApproval",
		"execCommandApproval", "applyPatchApproval", "item/permissions/requestApproval",
		"mcpServer/elicitation/request", "item/tool/requestUserInput")
}
