package proxystate

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/trustyclaw/trustyclaw/hostd/netstate"
)

// 20 concurrent replacements, through one Dir (in-process TryLock) and
// through separate Dirs (flock, as two helper processes would): each one
// either succeeds or gets ErrBusy, the live file is always one whole
// policy, and at the end it is one of the successful ones.
func TestConcurrentReplacesLeaveExactlyOneWholePolicy(t *testing.T) {
	for _, mode := range []string{"shared Dir", "separate Dirs"} {
		t.Run(mode, func(t *testing.T) {
			path := t.TempDir()
			shared := NewDir(path, fixedClock)
			ctx := context.Background()
			stop := make(chan struct{})
			var torn atomic.Int64
			var readerWG sync.WaitGroup
			readerWG.Add(1)
			go func() { // a reader that must never see a partial file
				defer readerWG.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					b, err := os.ReadFile(filepath.Join(path, PolicyFileName))
					if err != nil {
						continue // not yet written
					}
					if _, _, err := parsePolicyFile(b); err != nil {
						torn.Add(1)
					}
				}
			}()
			var wg sync.WaitGroup
			var mu sync.Mutex
			var okDocs [][]byte
			var busy int
			start := make(chan struct{})
			for i := 0; i < 20; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					d := shared
					if mode == "separate Dirs" {
						d = NewDir(path, fixedClock)
					}
					<-start
					raw := policyN(i)
					_, err := d.ReplacePolicy(ctx, raw)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						okDocs = append(okDocs, raw)
					case errors.Is(err, netstate.ErrBusy):
						busy++
					default:
						t.Errorf("replace %d: %v", i, err)
					}
				}()
			}
			close(start)
			wg.Wait()
			close(stop)
			readerWG.Wait()
			if torn.Load() != 0 {
				t.Fatalf("a reader saw %d partial files", torn.Load())
			}
			if len(okDocs) == 0 || len(okDocs)+busy != 20 {
				t.Fatalf("%d succeeded, %d busy", len(okDocs), busy)
			}
			live := shared.ReadPolicy()
			if live.Error != "" {
				t.Fatal(live.Error)
			}
			found := 0
			for _, raw := range okDocs {
				d2 := NewDir(t.TempDir(), fixedClock)
				doc, err := d2.ReplacePolicy(ctx, raw)
				if err != nil {
					t.Fatal(err)
				}
				a, _ := doc.Policy.MarshalJSON()
				b, _ := live.Policy.MarshalJSON()
				if bytes.Equal(a, b) {
					found++
				}
			}
			if found != 1 {
				t.Fatalf("live policy matches %d of the successful replacements, want exactly 1", found)
			}
			assertNoTempFiles(t, shared)
			t.Logf("%s: %d succeeded, %d busy", mode, len(okDocs), busy)
		})
	}
}

// While one replacement holds the lock, another gets ErrBusy at once.
func TestReplaceWhileLockedIsBusy(t *testing.T) {
	d := newDir(t)
	lock, err := tryLock(filepath.Join(d.Path(), PolicyLockName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.ReplacePolicy(context.Background(), policyN(1)); !errors.Is(err, netstate.ErrBusy) {
		t.Fatalf("got %v", err)
	}
	lock.unlock()
	if _, err := d.ReplacePolicy(context.Background(), policyN(1)); err != nil {
		t.Fatalf("after unlock: %v", err)
	}
}
