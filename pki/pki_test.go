package pki

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// seeded is a reproducible randomness source for tests.
func seeded(seed uint64) *rand.ChaCha8 {
	var s [32]byte
	s[0] = byte(seed)
	return rand.NewChaCha8(s)
}

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newCA(t testing.TB) *CA {
	t.Helper()
	ca, err := NewCA("Splinter Root CA", seeded(1), func() time.Time { return epoch })
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func verify(t *testing.T, ca *CA, cert tls.Certificate, name string) {
	t.Helper()
	_, err := cert.Leaf.Verify(x509.VerifyOptions{
		DNSName:     name,
		Roots:       ca.Pool(),
		CurrentTime: epoch.Add(time.Hour),
	})
	if err != nil {
		t.Errorf("verify %q: %v", name, err)
	}
}

func TestNewCADeterministicKeys(t *testing.T) {
	a := newCA(t)
	b := newCA(t)
	if !a.key.Equal(b.key) || !a.leafKey.Equal(b.leafKey) {
		t.Error("same seed gave different keys")
	}
	c, err := NewCA("Other", seeded(2), nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.key.Equal(c.key) {
		t.Error("different seeds gave the same key")
	}
	if got := a.Certificate().NotBefore; !got.Equal(epoch.Add(-backdate)) {
		t.Errorf("NotBefore = %v", got)
	}
	if !a.Certificate().IsCA {
		t.Error("CA certificate is not a CA")
	}
}

func TestIssue(t *testing.T) {
	ca := newCA(t)
	tests := []struct {
		name   string
		names  []string
		verify []string // names the certificate must be valid for
		ips    []netip.Addr
	}{
		{name: "one name", names: []string{"www.example.com"}, verify: []string{"www.example.com"}},
		{name: "trailing dot and case", names: []string{"WWW.Example.COM."}, verify: []string{"www.example.com"}},
		{name: "wildcard", names: []string{"*.example.org"}, verify: []string{"a.example.org"}},
		{name: "several", names: []string{"a.test", "b.test"}, verify: []string{"a.test", "b.test"}},
		{
			name:   "ip literals",
			names:  []string{"site.test", "192.0.2.7", "2001:db8::7"},
			verify: []string{"site.test", "192.0.2.7", "2001:db8::7"},
			ips:    []netip.Addr{netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("2001:db8::7")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert, err := ca.Issue(tt.names...)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range tt.verify {
				verify(t, ca, cert, n)
			}
			if len(cert.Leaf.IPAddresses) != len(tt.ips) {
				t.Errorf("IP SANs = %v, want %v", cert.Leaf.IPAddresses, tt.ips)
			}
			if _, err := cert.Leaf.Verify(x509.VerifyOptions{DNSName: "other.invalid", Roots: ca.Pool(), CurrentTime: epoch}); err == nil {
				t.Error("certificate valid for a name it was not issued for")
			}
		})
	}
	if _, err := ca.Issue(); err == nil {
		t.Error("Issue() with no names: no error")
	}
	if _, err := ca.Issue("bad name"); err == nil {
		t.Error("Issue(\"bad name\"): no error")
	}
}

func TestIssueSANsAddrOnly(t *testing.T) {
	ca := newCA(t)
	a := netip.MustParseAddr("::ffff:198.51.100.1")
	cert, err := ca.IssueSANs(nil, []netip.Addr{a})
	if err != nil {
		t.Fatal(err)
	}
	verify(t, ca, cert, "198.51.100.1")
}

func TestOtherCANotTrusted(t *testing.T) {
	world := newCA(t)
	national, err := NewCA("National Security CA", seeded(9), func() time.Time { return epoch })
	if err != nil {
		t.Fatal(err)
	}
	cert, err := national.Issue("www.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{DNSName: "www.example.com", Roots: world.Pool(), CurrentTime: epoch}); err == nil {
		t.Error("a certificate from another CA verified against the world's pool")
	}
}

type fakeConn struct {
	net.Conn
	local net.Addr
}

func (c fakeConn) LocalAddr() net.Addr { return c.local }

func TestGetCertificateCachesAndShares(t *testing.T) {
	ca := newCA(t)
	var wg sync.WaitGroup
	certs := make([]*tls.Certificate, 32)
	for i := range certs {
		wg.Go(func() {
			c, err := ca.GetCertificate(&tls.ClientHelloInfo{ServerName: "News.Test"})
			if err != nil {
				t.Error(err)
			}
			certs[i] = c
		})
	}
	wg.Wait()
	for _, c := range certs[1:] {
		if c != certs[0] {
			t.Fatal("concurrent GetCertificate calls issued more than one certificate")
		}
	}
	verify(t, ca, *certs[0], "news.test")

	// No SNI: issued for the address the connection arrived on.
	conn := fakeConn{local: &net.TCPAddr{IP: net.ParseIP("203.0.113.5"), Port: 443}}
	c, err := ca.GetCertificate(&tls.ClientHelloInfo{Conn: conn})
	if err != nil {
		t.Fatal(err)
	}
	verify(t, ca, *c, "203.0.113.5")
}

func TestTLSHandshake(t *testing.T) {
	ca := newCA(t)
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	srv := tls.Server(server, ca.ServerTLSConfig("a.test", "b.test"))
	errc := make(chan error, 1)
	go func() { errc <- srv.Handshake() }()
	cfg := ca.ClientTLSConfig()
	cfg.ServerName = "b.test"
	cfg.Time = func() time.Time { return epoch }
	cl := tls.Client(client, cfg)
	if err := cl.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if got := cl.ConnectionState().PeerCertificates[0].DNSNames; len(got) != 2 {
		t.Errorf("DNSNames = %v", got)
	}
}

func TestWriteBundle(t *testing.T) {
	ca := newCA(t)
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := ca.WriteBundle(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, ca.CertPEM()) {
		t.Error("bundle differs from CertPEM")
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		t.Fatalf("bundle is not a PEM certificate: %q", b)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Error("bundle does not load into a pool")
	}
}

// BenchmarkIssue measures what an intercepting middlebox pays per new name.
func BenchmarkIssue(b *testing.B) {
	ca := newCA(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ca.Issue("www.example.com"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "certs/s")
}

func BenchmarkGetCertificateCached(b *testing.B) {
	ca := newCA(b)
	hello := &tls.ClientHelloInfo{ServerName: "www.example.com"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ca.GetCertificate(hello); err != nil {
			b.Fatal(err)
		}
	}
}
