package store

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/agentrt"
	"github.com/trustyclaw/trustyclaw/hostd/tasks"
)

// crashChildEnv makes the test binary run crashChild instead of the tests.
const crashChildEnv = "TRUSTYCLAW_STORE_CRASH_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
		return
	}
	os.Exit(m.Run())
}

// crashChild mutates the store from 4 goroutines until it is killed and
// prints one line per acknowledged (committed) mutation:
//
//	created <task>      the task exists, queued
//	running <task>      claimed
//	completed <task>    finished
//	event <seq> <id>    an agent event with this seq and id
func crashChild(path string) {
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(2)
	}
	var out sync.Mutex
	ack := func(format string, args ...any) {
		out.Lock()
		fmt.Fprintf(os.Stdout, format+"\n", args...) // unbuffered: one write per line
		out.Unlock()
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				task, err := s.CreateTask(ctx, NewTask{Runtime: agentrt.Codex, ThreadID: fmt.Sprintf("g%d-%d", g, i%5), Input: "crash test"})
				if err != nil {
					fmt.Fprintln(os.Stderr, "child create:", err)
					os.Exit(3)
				}
				ack("created %s", task.ID)
				if i%3 == 0 {
					continue // stays queued
				}
				if _, ok, err := s.ClaimTask(ctx, task.ID); err != nil || !ok {
					fmt.Fprintln(os.Stderr, "child claim:", ok, err)
					os.Exit(3)
				}
				ack("running %s", task.ID)
				var seq int64
				var id string
				if err := s.write(ctx, func(tx *wtx) error {
					if err := s.appendMessage(tx, task.ID, SourceAgent, "progress"); err != nil {
						return err
					}
					return tx.queryRow(`SELECT seq, id FROM events WHERE seq = last_insert_rowid()`).Scan(&seq, &id)
				}); err != nil {
					fmt.Fprintln(os.Stderr, "child event:", err)
					os.Exit(3)
				}
				ack("event %d %s", seq, id)
				if i%3 == 1 {
					if _, err := s.FinishTask(ctx, task.ID, Finish{Status: tasks.StatusCompleted, Output: "ok"}); err != nil {
						fmt.Fprintln(os.Stderr, "child finish:", err)
						os.Exit(3)
					}
					ack("completed %s", task.ID)
				}
			}
		})
	}
	wg.Wait()
}

// TestKill9NeverLosesAnAcknowledgedMutation kills a writing process with
// SIGKILL at random moments, reopens the store each time, and checks that
// every acknowledged task state and event survived, that tasks left
// running were failed by recovery, and that no event seq was reused.
func TestKill9NeverLosesAnAcknowledgedMutation(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns and kills child processes")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "admin.db")
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	state := map[string]string{} // task → last acknowledged state
	events := map[int64]string{} // seq → event id
	const rounds, minAcks = 12, 200
	total := 0
	for round := 0; round < rounds || total < minAcks; round++ {
		total += crashRound(t, exe, path, rng.IntN(40)+10, state, events)
		verifyAfterCrash(t, path, state, events)
	}
	t.Logf("%d acknowledged mutations over %d kills", total, rounds)
}

func crashRound(t *testing.T, exe, path string, killAfter int, state map[string]string, events map[int64]string) int {
	t.Helper()
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	sc := bufio.NewScanner(stdout)
	acks := 0
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch f[0] {
		case "created", "running", "completed":
			state[f[1]] = f[0]
		case "event":
			seq, _ := strconv.ParseInt(f[1], 10, 64)
			if prev, ok := events[seq]; ok {
				t.Fatalf("seq %d acknowledged twice (events %s and %s)", seq, prev, f[2])
			}
			events[seq] = f[2]
		default:
			t.Fatalf("child said %q", sc.Text())
		}
		acks++
		if acks == killAfter {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
			break
		}
	}
	// Lines already written before the kill are acknowledged too.
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "created", "running", "completed":
			state[f[1]] = f[0]
		case "event":
			seq, _ := strconv.ParseInt(f[1], 10, 64)
			events[seq] = f[2]
		}
		acks++
	}
	err = cmd.Wait()
	if !killed || err == nil {
		t.Fatalf("child ended on its own: %v\n%s", err, stderr.String())
	}
	return acks
}

func verifyAfterCrash(t *testing.T, path string, state map[string]string, events map[int64]string) {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("reopening after kill -9: %v", err)
	}
	defer s.Close()
	var ic string
	if err := s.queryRow(ctx, "PRAGMA integrity_check").Scan(&ic); err != nil || ic != "ok" {
		t.Fatalf("integrity_check = %q, %v", ic, err)
	}
	if running, _ := s.RunningTasks(ctx); len(running) != 0 {
		t.Fatalf("%d tasks still running after recovery", len(running))
	}
	for id, acked := range state {
		task, err := s.GetTask(ctx, id)
		if err != nil {
			t.Fatalf("acknowledged task %s (%s) lost: %v", id, acked, err)
		}
		ok := false
		switch acked {
		case "created": // a claim may have committed unacknowledged
			ok = task.Status == tasks.StatusQueued || task.Status == tasks.StatusFailed
		case "running": // a finish may have committed unacknowledged
			ok = task.Status == tasks.StatusFailed || task.Status == tasks.StatusCompleted
		case "completed":
			ok = task.Status == tasks.StatusCompleted && task.Output == "ok"
		case "failed":
			ok = task.Status == tasks.StatusFailed
		}
		if !ok {
			t.Fatalf("task %s acknowledged %s is now %s", id, acked, task.Status)
		}
		if task.Status == tasks.StatusFailed && task.Error != RestartError {
			t.Fatalf("task %s failed with %q", id, task.Error)
		}
		// What recovery made of it is durable now too.
		switch task.Status {
		case tasks.StatusFailed:
			state[id] = "failed"
		case tasks.StatusCompleted:
			state[id] = "completed"
		}
	}
	byseq := map[int64]string{}
	var since int64
	for {
		page, err := s.Events(ctx, tasks.EventQuery{Since: since, Limit: MaxEventPage})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			byseq[e.Seq] = e.ID
		}
		since = page[len(page)-1].Seq
	}
	for seq, id := range events {
		if byseq[seq] != id {
			t.Fatalf("acknowledged event seq %d (%s) is now %q", seq, id, byseq[seq])
		}
	}
}
