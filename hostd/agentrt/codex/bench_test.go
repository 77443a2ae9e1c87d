package codex

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
)

func p50(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkCodexFollowUpWarmVsCold measures, against the real pinned CLI
// and a fake model, a follow-up turn on a warm app-server (bound to the
// thread) against the same follow-up on a cold one (new process +
// thread/resume). One iteration is the whole comparison.
func BenchmarkCodexFollowUpWarmVsCold(b *testing.B) {
	const rounds = 5
	for i := 0; i < b.N; i++ {
		rc := setupRealCodexB(b)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		var r recorder
		first, err := runTurnB(ctx, rc.adapter, r.req("bench", "", "start"))
		if err != nil {
			b.Fatal(err)
		}
		var warm, cold []time.Duration
		for j := 0; j < rounds; j++ {
			start := time.Now()
			if _, err := runTurnB(ctx, rc.adapter, r.req("bench", first.SessionID, fmt.Sprintf("warm %d", j))); err != nil {
				b.Fatal(err)
			}
			warm = append(warm, time.Since(start))
		}
		for j := 0; j < rounds; j++ {
			if err := rc.adapter.CloseAll(ctx); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			if _, err := runTurnB(ctx, rc.adapter, r.req("bench", first.SessionID, fmt.Sprintf("cold %d", j))); err != nil {
				b.Fatal(err)
			}
			cold = append(cold, time.Since(start))
		}
		cancel()
		b.ReportMetric(ms(p50(warm)), "warm_p50_ms")
		b.ReportMetric(ms(p50(cold)), "cold_p50_ms")
		b.ReportMetric(float64(p50(cold))/float64(p50(warm)), "cold/warm")
	}
}

func runTurnB(ctx context.Context, a *Adapter, req agentrt.TurnRequest) (agentrt.Result, error) {
	turn, err := a.StartTurn(ctx, req)
	if err != nil {
		return agentrt.Result{}, err
	}
	res, err := turn.Wait(ctx)
	if err == nil && res.Outcome != agentrt.OutcomeCompleted {
		err = fmt.Errorf("turn %s: %s", res.Outcome, res.Error)
	}
	return res, err
}
