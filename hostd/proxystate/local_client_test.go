package proxystate

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/trustyclaw/trustyclaw/hostd/policy"
)

func TestLocalClientServesTheAdminService(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir()
	ps, err := OpenProxyState(ctx, path, EventLogOptions{Now: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	listening := false
	for _, events := range []EventQuerier{ps.EventLog, nil} { // in-process log, and reading the file
		lc := NewLocalClient(ps.Dir, func() bool { return listening }, events)
		st, err := lc.Status(ctx)
		if err != nil || !st.PolicyValid || st.ProxyListening || st.Active() {
			t.Fatalf("status %+v %v", st, err)
		}
		listening = true
		if st, _ := lc.Status(ctx); !st.Active() {
			t.Fatalf("status %+v", st)
		}
		doc, err := lc.ReplacePolicy(ctx, []byte(`{"managed_ai_provider_network_access":{"openai":true},"allowed_network_access":{}}`))
		if err != nil || !doc.Policy.ProviderEnabled("openai") {
			t.Fatalf("%+v %v", doc, err)
		}
		if _, err := lc.ReplacePolicy(ctx, []byte(`{"allowed_network_access":{"openai.com":{"allow_http_methods":[]}}}`)); err == nil {
			t.Fatal("reserved domain accepted")
		} else {
			var ve *policy.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("%T %v", err, err)
			}
		}
		if err := lc.SetAccountPin(ctx, "openai", "acct-7"); err != nil {
			t.Fatal(err)
		}
		if pins, err := lc.Pins(ctx); err != nil || pins.OpenAIAccountID != "acct-7" {
			t.Fatalf("%+v %v", pins, err)
		}
		// The proxy enforces what the admin service stored.
		c, pins, err := ps.Current()
		if err != nil {
			t.Fatal(err)
		}
		r := policy.Request{Scheme: "https", Method: "POST", Host: "api.openai.com", Port: 443, HostHeader: "api.openai.com",
			Target: "/v1/responses", Header: map[string][]string{"Chatgpt-Account-Id": {"acct-7"}}}
		if d := c.Decide(r, pins); !d.Allow {
			t.Fatalf("%+v", d)
		}
		ps.Record(ev("api.openai.com"))
		if err := ps.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		got, err := lc.Events(ctx, 0, 100)
		if err != nil || len(got) == 0 || got[len(got)-1].Host != "api.openai.com" {
			t.Fatalf("%+v %v", got, err)
		}
		listening = false
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	lc := NewLocalClient(NewDir(filepath.Join(path), fixedClock), nil, nil)
	if _, err := lc.ReadPolicy(cancelled); err == nil {
		t.Fatal("cancelled context ignored")
	}
}
