package ca

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCACreatedOnFirstStartWithPrivateKeyMode0600(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadOrCreate(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key mode = %v, want 0600", st.Mode().Perm())
	}
	if !a.Certificate().IsCA {
		t.Fatal("CA certificate is not a CA")
	}
	b, err := LoadOrCreate(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !b.Certificate().Equal(a.Certificate()) {
		t.Fatal("second start created a different CA instead of loading the first")
	}
}

func TestCAIncompleteStateIsRefusedNotReplaced(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreate(dir, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, KeyFile)); err != nil {
		t.Fatal(err)
	}
	_, err := LoadOrCreate(dir, time.Now())
	if err == nil || !strings.Contains(err.Error(), "incomplete") {
		t.Fatalf("err = %v, want incomplete CA error", err)
	}
	if _, err := os.Stat(filepath.Join(dir, KeyFile)); err == nil {
		t.Fatal("a new key was written next to the old certificate")
	}
}

func TestCAKeyNotMatchingCertificateIsRefused(t *testing.T) {
	d1, d2 := t.TempDir(), t.TempDir()
	if _, err := LoadOrCreate(d1, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(d2, time.Now()); err != nil {
		t.Fatal(err)
	}
	k2, _ := os.ReadFile(filepath.Join(d2, KeyFile))
	if err := os.WriteFile(filepath.Join(d1, KeyFile), k2, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(d1, time.Now()); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("err = %v, want key/cert mismatch", err)
	}
}

func TestCorruptCAFilesGiveClearErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreate(dir, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, CertFile), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(dir, time.Now()); err == nil || !strings.Contains(err.Error(), "CERTIFICATE") {
		t.Fatalf("err = %v, want no CERTIFICATE block", err)
	}
}

func TestWriteCertPEMPublishesOnlyThePublicCertificate(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadOrCreate(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "proxy-ca.crt")
	if err := a.WriteCertPEM(out); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "PRIVATE") {
		t.Fatal("published PEM contains a private key")
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatal("published PEM does not parse as a certificate")
	}
}
