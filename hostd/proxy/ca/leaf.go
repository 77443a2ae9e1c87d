package ca

import (
	"container/list"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// DefaultLeafCacheSize bounds the leaf cache so an agent that visits
// endless subdomains of a wildcard cannot grow memory without limit.
const DefaultLeafCacheSize = 1000

// Leaf lifetime: short, since leaves are cheap to mint and only the proxy
// ever presents them. A cached leaf is re-minted once less than
// leafRenewBefore of its life is left.
const (
	leafValidity    = 7 * 24 * time.Hour
	leafRenewBefore = 24 * time.Hour
)

// LeafCache mints leaf certificates signed by an Authority and keeps the
// newest ones in an LRU. Concurrent first requests for one host share a
// single mint. Safe for concurrent use.
type LeafCache struct {
	ca    *Authority
	size  int
	clock func() time.Time

	mu       sync.Mutex
	entries  map[string]*list.Element // host → element holding *leafEntry
	order    *list.List               // front = most recently used
	inflight map[string]*mint
	mints    int64
}

type leafEntry struct {
	host string
	cert *tls.Certificate
}

type mint struct {
	done chan struct{}
	cert *tls.Certificate
	err  error
}

// NewLeafCache returns a cache holding at most size leaves (size <= 0
// means DefaultLeafCacheSize). clock nil means time.Now.
func NewLeafCache(a *Authority, size int, clock func() time.Time) *LeafCache {
	if size <= 0 {
		size = DefaultLeafCacheSize
	}
	if clock == nil {
		clock = time.Now
	}
	return &LeafCache{
		ca: a, size: size, clock: clock,
		entries:  map[string]*list.Element{},
		order:    list.New(),
		inflight: map[string]*mint{},
	}
}

// ErrBadLeafName: the name is empty or an IP literal.
var ErrBadLeafName = errors.New("no leaf certificate for an empty name or an IP literal")

// Get returns a leaf certificate for host (already normalised by the
// caller), minting it when it is not cached or about to expire.
func (c *LeafCache) Get(host string) (*tls.Certificate, error) {
	if host == "" {
		return nil, ErrBadLeafName
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil, ErrBadLeafName
	}
	now := c.clock()
	c.mu.Lock()
	if el, ok := c.entries[host]; ok {
		e := el.Value.(*leafEntry)
		if now.Add(leafRenewBefore).Before(e.cert.Leaf.NotAfter) {
			c.order.MoveToFront(el)
			c.mu.Unlock()
			return e.cert, nil
		}
	}
	if m, ok := c.inflight[host]; ok {
		c.mu.Unlock()
		<-m.done
		return m.cert, m.err
	}
	m := &mint{done: make(chan struct{})}
	c.inflight[host] = m
	c.mints++
	c.mu.Unlock()

	m.cert, m.err = c.ca.mintLeaf(host, now)

	c.mu.Lock()
	delete(c.inflight, host)
	if m.err == nil {
		c.putLocked(host, m.cert)
	}
	c.mu.Unlock()
	close(m.done)
	return m.cert, m.err
}

func (c *LeafCache) putLocked(host string, cert *tls.Certificate) {
	if el, ok := c.entries[host]; ok {
		el.Value.(*leafEntry).cert = cert
		c.order.MoveToFront(el)
		return
	}
	c.entries[host] = c.order.PushFront(&leafEntry{host: host, cert: cert})
	for c.order.Len() > c.size {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.entries, oldest.Value.(*leafEntry).host)
	}
}

// Len is the number of cached leaves.
func (c *LeafCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// Mints is how many leaves have been minted so far (for tests and metrics).
func (c *LeafCache) Mints() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mints
}

// mintLeaf signs a fresh leaf for host.
func (a *Authority) mintLeaf(host string, now time.Time) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate leaf key for %s: %w", host, err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(leafValidity)
	if notAfter.After(a.cert.NotAfter) {
		notAfter = a.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, key.Public(), a.key)
	if err != nil {
		return nil, fmt.Errorf("sign leaf for %s: %w", host, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse leaf for %s: %w", host, err)
	}
	return &tls.Certificate{
		Certificate: [][]byte{der, a.cert.Raw},
		PrivateKey:  key,
		Leaf:        leaf,
	}, nil
}
