package policy

import "testing"

// A guard that allows /repos/... must not let the agent walk out of it with
// dot segments the upstream might resolve.
func TestPathGuardRefusesDotSegments(t *testing.T) {
	c := mustCompile(t, fixturePolicy)
	cases := map[string]bool{
		"/repos/o/r/contents/a..b":               true, // not a segment
		"/repos/o/r/contents/.github/x":          true,
		"/repos/o/r/../../../orgs/x":             false,
		"/repos/o/r/./pulls":                     false,
		"/repos/o/r/%2e%2e/%2e%2e/user":          false,
		"/repos/o/r/%2E%2e/x":                    false,
		"/repos/o/r/.%2e/x":                      false,
		"/repos/o/r%2f..%2f..%2fuser":            false,
		"/repos/o/r\\..\\..\\user":               false,
		"/repos/o/r%5c..%5cuser":                 false,
		"/repos/o/r/pulls?path=../../etc/passwd": true, // query is not a path
		"/repos/o/r/..":                          false,
	}
	for target, want := range cases {
		d := c.Decide(req("GET", "api.github.com", target), Pins{})
		if d.Allow != want {
			t.Errorf("%s: allow=%v, want %v (%+v)", target, d.Allow, want, d)
		}
		if !want && d.Step != StepPathGuard {
			t.Errorf("%s: step %d, want %d", target, d.Step, StepPathGuard)
		}
		if !want && d.Hint != "" {
			t.Errorf("%s: hint %q, but no policy change admits a dot segment", target, d.Hint)
		}
	}
	// Without guards the operator allowed every path; dot segments pass.
	if d := c.Decide(req("GET", "x.example.com", "/a/../b"), Pins{}); !d.Allow {
		t.Errorf("unguarded host denied a dot segment: %+v", d)
	}
}
