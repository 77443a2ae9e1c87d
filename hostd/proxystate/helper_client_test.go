package proxystate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/trustyclaw/trustyclaw/hostd/netstate"
	"github.com/trustyclaw/trustyclaw/hostd/policy"
	"github.com/trustyclaw/trustyclaw/hostd/sudohelper"
)

// inProcessRunner runs the helpers in-process the way the hostd binary
// would (stdout JSON, non-zero exit as *sudohelper.ExitError), recording
// every call so tests can check nothing secret went on argv.
type inProcessRunner struct {
	d     *Dir
	mu    sync.Mutex
	calls [][]string
}

func (r *inProcessRunner) Run(ctx context.Context, name string, args []string, stdin []byte) ([]byte, error) {
	r.mu.Lock()
	r.calls = append(r.calls, append([]string{name}, args...))
	r.mu.Unlock()
	var out bytes.Buffer
	if err := RunHelper(ctx, r.d, name, args, bytes.NewReader(stdin), &out); err != nil {
		return nil, &sudohelper.ExitError{Helper: name, Code: 1, Stderr: err.Error(), Stdout: out.Bytes()}
	}
	return out.Bytes(), nil
}

func TestHelperClientRoundTripsEveryCall(t *testing.T) {
	ctx := context.Background()
	ps, err := OpenProxyState(ctx, t.TempDir(), EventLogOptions{Now: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	runner := &inProcessRunner{d: ps.Dir}
	c := NewHelperClient(runner, func() bool { return true })

	doc, err := c.ReadPolicy(ctx)
	if err != nil || doc.Policy == nil || len(doc.Policy.Allowed) != 0 || !doc.UpdatedAt.IsZero() {
		t.Fatalf("fresh: %+v %v", doc, err)
	}
	doc, err = c.ReplacePolicy(ctx, []byte(`{"managed_ai_provider_network_access":{"claude":true},"allowed_network_access":{"Git.Example.com":{"allow_http_methods":["GET"]}}}`))
	if err != nil || !doc.UpdatedAt.Equal(fixedNow) || !doc.Policy.ProviderEnabled("claude") {
		t.Fatalf("replace: %+v %v", doc, err)
	}
	if _, ok := doc.Policy.Allowed["git.example.com"]; !ok {
		t.Fatalf("not normalised: %+v", doc.Policy)
	}
	if got, _ := c.ReadPolicy(ctx); !got.UpdatedAt.Equal(fixedNow) || len(got.Policy.Allowed) != 1 {
		t.Fatalf("read back %+v", got)
	}
	st, err := c.Status(ctx)
	if err != nil || !st.Active() {
		t.Fatalf("status %+v %v", st, err)
	}

	// Validation errors come back as *policy.ValidationError, busy as ErrBusy.
	_, err = c.ReplacePolicy(ctx, []byte(`{"allowed_network_access":{"Example.com":{"allow_http_methods":["GET"],"x":1}}}`))
	var ve *policy.ValidationError
	if !errors.As(err, &ve) || ve.Field != `allowed_network_access["Example.com"].x` {
		t.Fatalf("validation error: %T %v", err, err)
	}
	lock, err := tryLock(filepath.Join(ps.Dir.Path(), PolicyLockName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReplacePolicy(ctx, policyN(1)); !errors.Is(err, netstate.ErrBusy) {
		t.Fatalf("busy: %v", err)
	}
	lock.unlock()

	const secret = "acct-secret-id"
	if err := c.SetAccountPin(ctx, "openai", secret); err != nil {
		t.Fatal(err)
	}
	hash := strings.Repeat("ab", 32)
	if err := c.SetAccountPin(ctx, "claude", hash); err != nil {
		t.Fatal(err)
	}
	pins, err := c.Pins(ctx)
	if err != nil || pins.OpenAIAccountID != secret || pins.ClaudeTokenSHA256 != hash {
		t.Fatalf("pins %+v %v", pins, err)
	}
	if err := c.SetAccountPin(ctx, "claude", "not-a-hash"); err == nil {
		t.Fatal("bad pin accepted")
	}
	for _, call := range runner.calls {
		for _, a := range call {
			if strings.Contains(a, secret) || strings.Contains(a, hash) {
				t.Fatalf("pin value on argv: %v", call)
			}
		}
	}

	for i := 0; i < 7; i++ {
		ps.Record(ev("e.example.com"))
	}
	if err := ps.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	evs, err := c.Events(ctx, 2, 3)
	if err != nil || len(evs) != 3 || evs[0].Seq != 3 || !evs[0].Timestamp.Equal(fixedNow) || evs[0].Host != "e.example.com" {
		t.Fatalf("events %+v %v", evs, err)
	}
	if evs, err := c.Events(ctx, 100, 5); err != nil || evs == nil || len(evs) != 0 {
		t.Fatalf("empty page %#v %v", evs, err)
	}
	if _, err := c.Events(ctx, -1, 5); err == nil {
		t.Fatal("negative since accepted")
	}
}

func TestHelperClientSurfacesCorruptState(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	writeRaw(t, d, PolicyFileName, `{"schema_version":1,"updated_at":"2026-03-01T12:00:00Z","policy":{"allowed_network_access":{"10.0.0.1":{"allow_http_methods":[]}}}}`)
	c := NewHelperClient(&inProcessRunner{d: d}, func() bool { return true })
	doc, err := c.ReadPolicy(ctx)
	if err != nil || doc.Policy != nil || !strings.Contains(doc.Error, "IP literals") {
		t.Fatalf("%+v %v", doc, err)
	}
	st, err := c.Status(ctx)
	if err != nil || st.PolicyValid || st.Active() || st.PolicyError == "" {
		t.Fatalf("%+v %v", st, err)
	}
	writeRaw(t, d, PolicyFileName, `{"schema_version":9}`)
	if _, err := c.ReplacePolicy(ctx, policyN(1)); !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("newer schema over helpers: %v", err)
	}
}

func TestHelperClientPassesRunnerFailuresThrough(t *testing.T) {
	boom := errors.New("sudo: a password is required")
	c := NewHelperClient(sudohelper.RunnerFunc(func(context.Context, string, []string, []byte) ([]byte, error) {
		return nil, &sudohelper.ExitError{Helper: "x", Code: 1, Stderr: boom.Error()}
	}), nil)
	if _, err := c.ReadPolicy(context.Background()); err == nil || !strings.Contains(err.Error(), "password is required") {
		t.Fatalf("got %v", err)
	}
	c = NewHelperClient(sudohelper.RunnerFunc(func(context.Context, string, []string, []byte) ([]byte, error) {
		return []byte("not json"), nil
	}), nil)
	if _, err := c.Pins(context.Background()); err == nil || !strings.Contains(err.Error(), "unexpected output") {
		t.Fatalf("got %v", err)
	}
}

func TestRunHelperArgumentContract(t *testing.T) {
	d := newDir(t)
	cases := []struct {
		name  string
		args  []string
		stdin string
	}{
		{HelperUpdatePolicy, []string{"--state-dir", "/tmp"}, `{"allowed_network_access":{}}`},
		{HelperReadState, nil, ""},
		{HelperReadState, []string{"everything"}, ""},
		{HelperReadState, []string{"policy", "extra"}, ""},
		{HelperReadState, []string{"events"}, ""},
		{HelperReadState, []string{"events", "0"}, ""},
		{HelperReadState, []string{"events", "-1", "5"}, ""},
		{HelperReadState, []string{"events", "+1", "5"}, ""},
		{HelperReadState, []string{"events", "01", "5"}, ""},
		{HelperReadState, []string{"events", "1e3", "5"}, ""},
		{HelperReadState, []string{"events", "0", "0"}, ""},
		{HelperReadState, []string{"events", "0", "1001"}, ""},
		{HelperReadState, []string{"events", "0", "5", "6"}, ""},
		{HelperReadState, []string{"events", " 0", "5"}, ""},
		{HelperReadState, []string{"events", "99999999999999999999", "5"}, ""},
		{HelperUpdateAccount, nil, "acct"},
		{HelperUpdateAccount, []string{"gemini"}, "acct"},
		{HelperUpdateAccount, []string{"openai", "acct"}, ""},
		{HelperUpdateAccount, []string{"openai"}, strings.Repeat("a", maxPinInput+1)},
		{HelperUpdateAccount, []string{"openai"}, "abc def"},          // not an account id
		{HelperUpdateAccount, []string{"claude"}, "sk-ant-raw-token"}, // a token, not its hash
		{"reboot-host", nil, ""},
	}
	for _, tc := range cases {
		var out bytes.Buffer
		err := RunHelper(context.Background(), d, tc.name, tc.args, strings.NewReader(tc.stdin), &out)
		if err == nil {
			t.Errorf("%s %v accepted", tc.name, tc.args)
			continue
		}
		var we wireError
		if json.Unmarshal(out.Bytes(), &we) != nil || we.Error.Code != codeInvalidArgument {
			t.Errorf("%s %v: stdout %q", tc.name, tc.args, out.String())
		}
	}
	var out bytes.Buffer
	if err := RunHelper(context.Background(), d, HelperReadState, []string{"events", "0", "1000"}, strings.NewReader(""), &out); err != nil {
		t.Fatalf("max page refused: %v", err)
	}
	if got := strings.TrimSpace(out.String()); got != `{"events":[]}` {
		t.Fatalf("got %s", got)
	}
	out.Reset()
	if err := RunHelper(context.Background(), d, HelperUpdateAccount, []string{"openai"}, strings.NewReader("acct-1\n"), &out); err != nil {
		t.Fatal(err)
	}
	if p, _ := d.ReadPins(); p.OpenAIAccountID != "acct-1" {
		t.Fatalf("trailing newline kept: %+v", p)
	}
	if strings.Contains(out.String(), "acct-1") {
		t.Fatalf("pin echoed: %s", out.String())
	}
}
