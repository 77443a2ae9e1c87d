package ui

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

// BenchmarkPageLoad measures what a browser pays to load the whole UI over
// loopback HTTP with keep-alive: every embedded file fetched in turn, in
// three modes side by side — identity, gzip, and a revalidation where
// every file answers 304. One b.N iteration is a full measurement of
// loadsPerMode page loads per mode.
func BenchmarkPageLoad(b *testing.B) {
	const loadsPerMode = 100
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()

	var paths []string
	for _, u := range embeddedFiles(b) {
		paths = append(paths, u)
	}
	slices.Sort(paths)
	etags := map[string]string{}

	// load fetches every path once and returns the body bytes received.
	load := func(enc string, revalidate bool) int {
		total := 0
		for _, p := range paths {
			req, err := http.NewRequest(http.MethodGet, srv.URL+p, nil)
			if err != nil {
				b.Fatal(err)
			}
			req.Header.Set("Accept-Encoding", enc)
			if revalidate {
				req.Header.Set("If-None-Match", etags[p])
			}
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil {
				b.Fatal(err)
			}
			want := http.StatusOK
			if revalidate {
				want = http.StatusNotModified
			}
			if resp.StatusCode != want {
				b.Fatalf("%s: status %d, want %d", p, resp.StatusCode, want)
			}
			etags[p] = resp.Header.Get("ETag")
			total += int(n)
		}
		return total
	}
	type result struct {
		bytes    int
		p50, p99 time.Duration
	}
	run := func(enc string, revalidate bool) result {
		var r result
		times := make([]time.Duration, 0, loadsPerMode)
		for range loadsPerMode {
			start := time.Now()
			r.bytes = load(enc, revalidate)
			times = append(times, time.Since(start))
		}
		slices.Sort(times)
		r.p50, r.p99 = times[len(times)/2], times[len(times)*99/100]
		return r
	}

	b.ResetTimer()
	var plain, gz, reval result
	for range b.N {
		plain = run("identity", false)
		gz = run("gzip", false)
		reval = run("gzip", true) // etags now hold the gzip validators
	}
	b.StopTimer()
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	b.ReportMetric(float64(len(paths)), "files")
	b.ReportMetric(float64(plain.bytes), "page_bytes_identity")
	b.ReportMetric(float64(gz.bytes), "page_bytes_gzip")
	b.ReportMetric(float64(gz.bytes)/float64(plain.bytes), "gzip/identity_bytes")
	b.ReportMetric(us(plain.p50), "p50_us_identity")
	b.ReportMetric(us(plain.p99), "p99_us_identity")
	b.ReportMetric(us(gz.p50), "p50_us_gzip")
	b.ReportMetric(us(gz.p99), "p99_us_gzip")
	b.ReportMetric(us(reval.p50), "p50_us_304")
	b.ReportMetric(us(reval.p50)/us(plain.p50), "304/identity_p50")
}
