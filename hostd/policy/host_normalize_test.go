package policy

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizeHost(t *testing.T) {
	cases := []struct {
		in, want, err string
		ip            bool
	}{
		{in: "Example.COM", want: "example.com"},
		{in: "example.com.", want: "example.com"},
		{in: "xn--bcher-kva.example", want: "xn--bcher-kva.example"},
		{in: "XN--BCHER-KVA.example", want: "xn--bcher-kva.example"},
		{in: "a_b.example.com", want: "a_b.example.com"},
		{in: "localhost", want: "localhost"},
		{in: "", err: "empty"},
		{in: ".", err: "empty"},
		{in: "example..com", err: "empty label"},
		{in: "example.com..", err: "empty label"},
		{in: "bücher.example", err: `use "xn--bcher-kva.example"`},
		{in: "xn--a.example", err: "invalid punycode"},
		{in: "-a.example.com", err: "starts or ends"},
		{in: "a-.example.com", err: "starts or ends"},
		{in: "a b.com", err: "invalid character"},
		{in: "a*.com", err: "invalid character"},
		{in: "example.com:443", err: "invalid character"},
		{in: strings.Repeat("a", 64) + ".com", err: "label longer"},
		{in: strings.Repeat("a.", 127) + "com", err: "longer than 253"},
		{in: "\xff.com", err: "UTF-8"},
		{in: "127.0.0.1", ip: true},
		{in: "::1", ip: true},
		{in: "[::1]", ip: true},
		{in: "[fe80::1%25eth0]", ip: true},
		{in: "fe80::1%eth0", ip: true},
		{in: "1.2.3", ip: true},
		{in: "0x7f.0x1", ip: true},
		{in: "2130706433", ip: true},
	}
	for _, tc := range cases {
		got, err := NormalizeHost(tc.in)
		switch {
		case tc.ip:
			if !errors.Is(err, ErrIPLiteral) {
				t.Errorf("NormalizeHost(%q) = %q, %v; want ErrIPLiteral", tc.in, got, err)
			}
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("NormalizeHost(%q) = %q, %v; want error containing %q", tc.in, got, err, tc.err)
			}
		default:
			if err != nil || got != tc.want {
				t.Errorf("NormalizeHost(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		}
	}
}

func TestNormalizeHostIsIdempotent(t *testing.T) {
	for _, h := range []string{"Example.COM.", "a_b.Example.com", "XN--BCHER-KVA.example"} {
		n, err := NormalizeHost(h)
		if err != nil {
			t.Fatal(err)
		}
		if m, err := NormalizeHost(n); err != nil || m != n {
			t.Errorf("NormalizeHost(%q) = %q, %v; not idempotent", n, m, err)
		}
	}
}
