package policy

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// BenchmarkDecide measures one decision per request kind, in one run, and
// reports ns per decision for each (a full iteration is 20k decisions per
// kind, so -benchtime 1x is meaningful).
func BenchmarkDecide(b *testing.B) {
	c := mustCompile(b, fixturePolicy)
	pins := Pins{OpenAIAccountID: "acct", ClaudeTokenSHA256: sha("tok")}
	kinds := []struct {
		name string
		r    Request
	}{
		{"exact", req("GET", "api.github.com", "/repos/o/r/pulls")},
		{"wildcard", req("POST", "a.b.example.com", "/x")},
		{"deny_no_rule", req("GET", "evil.test", "/")},
		{"openai_guard", Request{Scheme: "https", Method: "POST", Host: "api.openai.com", Port: 443, HostHeader: "api.openai.com", Target: "/v1/responses", Header: http.Header{"Chatgpt-Account-Id": {"acct"}}}},
		{"anthropic_guard", Request{Scheme: "https", Method: "POST", Host: "api.anthropic.com", Port: 443, HostHeader: "api.anthropic.com", Target: "/v1/messages", Header: http.Header{"Authorization": {"Bearer tok"}}}},
	}
	const per = 20000
	for i := 0; i < b.N; i++ {
		for _, k := range kinds {
			start := time.Now()
			for j := 0; j < per; j++ {
				_ = c.Decide(k.r, pins)
			}
			b.ReportMetric(float64(time.Since(start).Nanoseconds())/per, "ns/"+k.name)
		}
	}
}

// BenchmarkCheckWebSearch compares the pre-filtered path (a 1 MiB model
// request that cannot mention web_search) with the full scan (a body with
// a web_search tool, which must be parsed), and the scan with the
// encoding/json Token walker it replaced; MB/s and ratios.
func BenchmarkCheckWebSearch(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"model":"m","tools":[{"type":"function","name":"shell"},{"type":"web_search","external_web_access":false}],"input":[`)
	for i := 0; sb.Len() < 1<<20; i++ {
		fmt.Fprintf(&sb, `{"type":"message","role":"user","content":[{"type":"input_text","text":"line %d of a long conversation with some code: func main() { fmt.Println(\"hi\") }"}]},`, i)
	}
	sb.WriteString(`{"type":"message","role":"user","content":"end"}]}`)
	clean := []byte(strings.Replace(sb.String(), `"type":"web_search","external_web_access":false`, `"type":"function","name":"x"`, 1))
	walked := []byte(strings.Replace(sb.String(), `"end"`, `"end\u001b"`, 1))
	mbps := func(body []byte, rounds int) float64 {
		start := time.Now()
		for r := 0; r < rounds; r++ {
			if ok, why := CheckWebSearch(body); !ok {
				b.Fatal(why)
			}
		}
		return float64(len(body)*rounds) / 1e6 / time.Since(start).Seconds()
	}
	for i := 0; i < b.N; i++ {
		fast := mbps(clean, 20)
		slow := mbps(walked, 3)
		start := time.Now()
		if _, err := walkForWebSearchReference(walked); err != nil {
			b.Fatal(err)
		}
		ref := float64(len(walked)) / 1e6 / time.Since(start).Seconds()
		b.ReportMetric(fast, "MB/s_prefiltered")
		b.ReportMetric(slow, "MB/s_walked")
		b.ReportMetric(ref, "MB/s_encoding_json_tokens")
		b.ReportMetric(fast/slow, "x_prefilter_speedup")
		b.ReportMetric(slow/ref, "x_scanner_vs_tokens")
	}
}
