package proxystate

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/trustyclaw/trustyclaw/hostd/policy"
)

// PolicySource is what the proxy asks before every decision: the compiled
// policy and pins in force. An error means deny everything.
type PolicySource interface {
	Current() (*policy.Compiled, policy.Pins, error)
}

// stamp identifies one version of a file cheaply. A replacement is a
// rename, so the inode changes even when size and mtime do not.
type stamp struct {
	exists     bool
	dev, ino   uint64
	size       int64
	mtime, ctm int64
}

func stampOf(fi os.FileInfo) stamp {
	s := stamp{exists: true, size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.dev, s.ino = uint64(st.Dev), st.Ino
		s.ctm = st.Ctim.Nano()
	}
	return s
}

// statStamp stats path without allocating (syscall.Stat, not os.Stat:
// this runs twice per proxied request).
func statStamp(path string) (stamp, error) {
	var st syscall.Stat_t
	for {
		err := syscall.Stat(path, &st)
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.ENOENT {
			return stamp{}, nil
		}
		if err != nil {
			return stamp{}, &fs.PathError{Op: "stat", Path: path, Err: err}
		}
		break
	}
	return stamp{exists: true, dev: uint64(st.Dev), ino: st.Ino, size: st.Size,
		mtime: st.Mtim.Nano(), ctm: st.Ctim.Nano()}, nil
}

// snapshot is one consistent view: what was loaded for which file stamps.
type snapshot struct {
	policyStamp, pinsStamp stamp
	compiled               *policy.Compiled
	pins                   policy.Pins
	err                    error
}

// Watcher serves Current for the proxy: two stat calls per request, and a
// re-read and re-validation only when policy.json or pins.json changed.
// It is safe for concurrent use.
type Watcher struct {
	dir    *Dir
	snap   atomic.Pointer[snapshot]
	reload sync.Mutex
}

// NewWatcher watches dir's policy and pins.
func NewWatcher(dir *Dir) *Watcher { return &Watcher{dir: dir} }

// Current returns the compiled policy and pins in force, or the error that
// makes the proxy deny everything (unreadable or invalid policy or pins,
// or state from a newer schema).
func (w *Watcher) Current() (*policy.Compiled, policy.Pins, error) {
	ps, pe := statStamp(filepath.Join(w.dir.path, PolicyFileName))
	ks, ke := statStamp(filepath.Join(w.dir.path, PinsFileName))
	if pe != nil || ke != nil {
		return nil, policy.Pins{}, fmt.Errorf("stat proxy state: %w", errors.Join(pe, ke))
	}
	if s := w.snap.Load(); s != nil && s.policyStamp == ps && s.pinsStamp == ks {
		return s.compiled, s.pins, s.err
	}
	w.reload.Lock()
	defer w.reload.Unlock()
	if s := w.snap.Load(); s != nil && s.policyStamp == ps && s.pinsStamp == ks {
		return s.compiled, s.pins, s.err
	}
	s := w.load()
	w.snap.Store(s)
	return s.compiled, s.pins, s.err
}

// load reads both files, taking each stamp from the descriptor it read so
// a replacement racing the read is noticed on the next call.
func (w *Watcher) load() *snapshot {
	s := &snapshot{}
	pb, ps, perr := readStamped(filepath.Join(w.dir.path, PolicyFileName))
	kb, ks, kerr := readStamped(filepath.Join(w.dir.path, PinsFileName))
	s.policyStamp, s.pinsStamp = ps, ks
	if err := errors.Join(perr, kerr); err != nil {
		s.err = err
		return s
	}
	p := policy.Empty() // a missing policy.json is a fresh host
	if ps.exists {
		var err error
		if p, _, err = parsePolicyFile(pb); err != nil {
			s.err = err
			return s
		}
	}
	var pins policy.Pins
	if ks.exists {
		var err error
		if pins, err = parsePinsFile(kb); err != nil {
			s.err = err
			return s
		}
	}
	c, err := policy.Compile(p)
	if err != nil {
		s.err = fmt.Errorf("compile %s: %w", PolicyFileName, err)
		return s
	}
	s.compiled, s.pins = c, pins
	return s
}

// readStamped reads one state file and the stamp of what it read; a
// missing file gives a zero stamp and no error.
func readStamped(path string) ([]byte, stamp, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, stamp{}, nil
	}
	if err != nil {
		return nil, stamp{}, fmt.Errorf("open %s: %w", filepath.Base(path), err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, stamp{}, fmt.Errorf("stat %s: %w", filepath.Base(path), err)
	}
	st := stampOf(fi)
	b, err := io.ReadAll(io.LimitReader(f, maxStateFileBytes+1))
	if err != nil {
		return nil, st, fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	if len(b) > maxStateFileBytes {
		return nil, st, fmt.Errorf("%s is larger than %d bytes", filepath.Base(path), maxStateFileBytes)
	}
	return b, st, nil
}
