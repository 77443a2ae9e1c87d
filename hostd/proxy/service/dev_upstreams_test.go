package service

import (
	"strings"
	"testing"
)

func TestParseDevUpstreams(t *testing.T) {
	got, err := ParseDevUpstreams([]string{"Model.E2E.test.=127.0.0.1:9443", "api.openai.com=[::1]:8443"})
	if err != nil {
		t.Fatal(err)
	}
	if got["model.e2e.test"] != "127.0.0.1:9443" || got["api.openai.com"] != "[::1]:8443" || len(got) != 2 {
		t.Fatalf("%v", got)
	}
	for _, bad := range [][]string{
		{"noequals"},
		{"=127.0.0.1:1"},
		{"a.test="},
		{"127.0.0.1=127.0.0.1:1"},
		{"a.test=127.0.0.1"},
		{"a.test=127.0.0.1:0"},
		{"a.test=:443"},
		{"a.test=127.0.0.1:1", "A.test=127.0.0.1:2"},
	} {
		if _, err := ParseDevUpstreams(bad); err == nil || !strings.Contains(err.Error(), "dev-upstream") {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}
