package store

import "sync"

// notifier fans "new events committed" out to subscribers. Each
// subscriber has a one-slot channel: a notification that finds the slot
// full is merged into the pending one, so a slow reader never blocks the
// writer and never misses that something changed.
type notifier struct {
	mu   sync.Mutex
	subs map[chan struct{}]struct{}
}

func (n *notifier) subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	n.mu.Lock()
	if n.subs == nil {
		n.subs = make(map[chan struct{}]struct{})
	}
	n.subs[ch] = struct{}{}
	n.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			n.mu.Lock()
			delete(n.subs, ch)
			n.mu.Unlock()
		})
	}
}

func (n *notifier) notify() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for ch := range n.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Subscribe returns a channel that receives a value (coalesced) after each
// commit that appended agent events, and a func that ends the
// subscription. The channel is never closed.
func (s *Store) Subscribe() (<-chan struct{}, func()) { return s.notify.subscribe() }
