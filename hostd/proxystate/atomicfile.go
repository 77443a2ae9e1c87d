package proxystate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/trustyclaw/trustyclaw/hostd/netstate"
)

// writeFileAtomic replaces dir/name with data so that readers see either
// the old file or the whole new one: a temp file in the same directory is
// written and fsynced, renamed over the target, and the directory fsynced
// so the rename itself survives a crash.
func writeFileAtomic(dir, name string, data []byte, perm os.FileMode) (err error) {
	tmp, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temp file for %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(perm); err != nil {
		return fmt.Errorf("chmod temp file for %s: %w", name, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write temp file for %s: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("fsync temp file for %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close temp file for %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("rename temp file over %s: %w", name, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open state directory for fsync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync state directory: %w", err)
	}
	return nil
}

// readFileCapped reads a whole file of at most limit bytes.
func readFileCapped(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", filepath.Base(path), limit)
	}
	return b, nil
}

// fileLock is an flock(2) lock on a side file. flock locks belong to the
// open file description, so two opens in one process exclude each other
// as well as two processes do.
type fileLock struct{ f *os.File }

// tryLock takes the lock or fails at once with netstate.ErrBusy.
func tryLock(path string) (*fileLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, netstate.ErrBusy
		}
		return nil, fmt.Errorf("lock %s: %w", filepath.Base(path), err)
	}
	return &fileLock{f: f}, nil
}

// waitLock takes the lock, polling until ctx ends.
func waitLock(ctx context.Context, path string) (*fileLock, error) {
	const poll = 5 * time.Millisecond
	for {
		l, err := tryLock(path)
		if !errors.Is(err, netstate.ErrBusy) {
			return l, err
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("wait for %s: %w", filepath.Base(path), ctx.Err())
		case <-t.C:
		}
	}
}

func (l *fileLock) unlock() {
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	_ = l.f.Close()
}
