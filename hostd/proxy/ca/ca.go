// Package ca owns the proxy's local certificate authority: it creates the
// CA key and certificate on first start (key file 0600), loads them on
// later starts, publishes the public certificate as PEM, and mints leaf
// certificates for intercepted hosts through a bounded cache.
//
// It must never write the CA private key anywhere but its own state file,
// never hand the key to a caller, and never mint a leaf for an IP literal
// or an empty name.
package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// File names inside the state directory.
const (
	KeyFile  = "proxy-ca.key"
	CertFile = "proxy-ca.crt"
)

// caValidity is long because replacing the CA means re-trusting it in
// every agent environment; the key never leaves the proxy's state dir.
const caValidity = 10 * 365 * 24 * time.Hour

// Authority is a loaded CA: certificate plus signer.
type Authority struct {
	cert    *x509.Certificate
	certPEM []byte
	key     crypto.Signer
}

// LoadOrCreate loads the CA from dir, or creates it there when neither
// file exists. A half-present CA (only one of the two files) is an error:
// silently replacing a key would break every client that trusts the old
// certificate.
func LoadOrCreate(dir string, now time.Time) (*Authority, error) {
	keyPath := filepath.Join(dir, KeyFile)
	certPath := filepath.Join(dir, CertFile)
	_, kerr := os.Stat(keyPath)
	_, cerr := os.Stat(certPath)
	switch {
	case kerr == nil && cerr == nil:
		return load(keyPath, certPath)
	case errors.Is(kerr, os.ErrNotExist) && errors.Is(cerr, os.ErrNotExist):
		return create(dir, keyPath, certPath, now)
	case kerr != nil && !errors.Is(kerr, os.ErrNotExist):
		return nil, fmt.Errorf("stat proxy CA key: %w", kerr)
	case cerr != nil && !errors.Is(cerr, os.ErrNotExist):
		return nil, fmt.Errorf("stat proxy CA certificate: %w", cerr)
	default:
		return nil, fmt.Errorf("proxy CA in %s is incomplete (one of %s, %s is missing); remove both to create a new CA", dir, KeyFile, CertFile)
	}
}

func load(keyPath, certPath string) (*Authority, error) {
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("read proxy CA key: %w", err)
	}
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("read proxy CA certificate: %w", err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil || kb.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("proxy CA key %s: no PKCS#8 PRIVATE KEY block", keyPath)
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse proxy CA key: %w", err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("proxy CA key %s is not a signing key", keyPath)
	}
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("proxy CA certificate %s: no CERTIFICATE block", certPath)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse proxy CA certificate: %w", err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("proxy CA certificate %s is not a CA", certPath)
	}
	if !publicKeysEqual(cert.PublicKey, signer.Public()) {
		return nil, fmt.Errorf("proxy CA key %s does not match certificate %s", keyPath, certPath)
	}
	return &Authority{cert: cert, certPEM: pem.EncodeToMemory(cb), key: signer}, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ae, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ae.Equal(b)
}

func create(dir, keyPath, certPath string, now time.Time) (*Authority, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create proxy state dir: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate proxy CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "TrustyClaw proxy CA", Organization: []string{"TrustyClaw"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("self-sign proxy CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse new proxy CA: %w", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode proxy CA key: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	// Key first: a crash between the two writes leaves an incomplete CA
	// that LoadOrCreate reports, rather than a certificate without key.
	if err := writeFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("write proxy CA key: %w", err)
	}
	if err := writeFileAtomic(certPath, certPEM, 0o644); err != nil {
		return nil, fmt.Errorf("write proxy CA certificate: %w", err)
	}
	return &Authority{cert: cert, certPEM: certPEM, key: key}, nil
}

// Certificate returns the CA certificate.
func (a *Authority) Certificate() *x509.Certificate { return a.cert }

// CertPEM returns the CA certificate as PEM.
func (a *Authority) CertPEM() []byte { return append([]byte(nil), a.certPEM...) }

// WriteCertPEM publishes the public CA certificate (never the key) at
// path, atomically, mode 0644.
func (a *Authority) WriteCertPEM(path string) error {
	if err := writeFileAtomic(path, a.certPEM, 0o644); err != nil {
		return fmt.Errorf("publish proxy CA certificate: %w", err)
	}
	return nil
}

func randomSerial() (*big.Int, error) {
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generate certificate serial: %w", err)
	}
	return s.Add(s, big.NewInt(1)), nil
}

// writeFileAtomic writes data to a temp file in the same directory with
// mode perm, fsyncs it and renames it over path.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = os.Remove(tmp)
		}
	}()
	if err := f.Chmod(perm); err != nil {
		_ = f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
