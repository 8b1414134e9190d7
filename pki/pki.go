// Package pki owns the certificate authorities of the emulated world: a root
// CA whose certificate the world's clients trust, and the leaf certificates it
// issues for site names and addresses.
//
// A national CA used for TLS interception (Kazakhstan, 2019) is just another
// [CA]: an intercepting middlebox calls [CA.Issue] or [CA.GetCertificate] for
// whatever name a client asked for. Issuing is fast because every leaf of a CA
// shares one leaf key (as interception proxies such as mitmproxy do), so
// issuing costs one ECDSA signature.
//
// Package pki does not decide who trusts which CA (the world does, by handing
// [CA.Pool] or [CA.ClientTLSConfig] to its clients), and it does not
// intercept anything itself.
//
// Reproducibility: keys and serial numbers are drawn from the io.Reader given
// to [NewCA], and validity periods come from its clock, so the same seed gives
// the same keys. Since Go 1.26, ECDSA signing ignores any caller-supplied
// reader, so certificate bytes differ from run to run unless the test calls
// testing/cryptotest.SetGlobalRandom.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 365 * 24 * time.Hour
	// backdate covers clock skew between the CA's clock and its clients'.
	backdate = time.Hour
	// maxCached bounds the GetCertificate cache; an intercepting middlebox
	// may see any number of names. When full the cache is emptied.
	maxCached = 1 << 14
)

// CA is a certificate authority: an ECDSA P-256 root key and self-signed
// certificate, and a cache of leaf certificates issued by SNI. Make one with
// [NewCA]; the zero value is not usable. All methods are safe for concurrent
// use.
type CA struct {
	name    string
	now     func() time.Time
	key     *ecdsa.PrivateKey
	leafKey *ecdsa.PrivateKey
	cert    *x509.Certificate
	certDER []byte
	certPEM []byte
	serial  atomic.Uint64

	mu     sync.Mutex
	flight map[string]*flight
}

// flight is one GetCertificate issuance, shared by every caller asking for the
// same name while it runs, then kept as the cache entry.
type flight struct {
	done chan struct{}
	cert *tls.Certificate
	err  error
}

// NewCA makes a root CA whose subject common name and organization are name.
// Keys are derived from rand (crypto/rand.Reader when nil; a seeded reader
// gives reproducible keys) and validity periods from now (time.Now when nil).
func NewCA(name string, rand io.Reader, now func() time.Time) (*CA, error) {
	if rand == nil {
		rand = cryptoRand{}
	}
	if now == nil {
		now = time.Now
	}
	if name == "" {
		return nil, errors.New("pki: CA name is empty")
	}
	key, err := deriveKey(rand)
	if err != nil {
		return nil, err
	}
	leafKey, err := deriveKey(rand)
	if err != nil {
		return nil, err
	}
	skid := keyID(&key.PublicKey)
	t := now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name, Organization: []string{name}},
		NotBefore:             t.Add(-backdate),
		NotAfter:              t.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          skid,
	}
	der, err := x509.CreateCertificate(rand, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("pki: creating CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("pki: parsing CA certificate: %w", err)
	}
	ca := &CA{
		name:    name,
		now:     now,
		key:     key,
		leafKey: leafKey,
		cert:    cert,
		certDER: der,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		flight:  make(map[string]*flight),
	}
	ca.serial.Store(1)
	return ca, nil
}

// Name is the CA's name, as given to NewCA.
func (ca *CA) Name() string { return ca.name }

// Certificate is the CA's self-signed certificate. Callers must not modify it.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// CertPEM is the CA certificate, PEM-encoded: the trust anchor clients need.
func (ca *CA) CertPEM() []byte { return append([]byte(nil), ca.certPEM...) }

// Pool is a new certificate pool holding the CA certificate only.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// ClientTLSConfig is a client configuration trusting this CA only. Set
// ServerName (and NextProtos) on it, or on a Clone, before use.
func (ca *CA) ClientTLSConfig() *tls.Config {
	return &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
}

// ServerTLSConfig is a server configuration presenting certificates of this
// CA. With names, it presents one certificate for all of them (issued on the
// first handshake); without names it issues by SNI with [CA.GetCertificate].
// NextProtos is left empty for the server to set.
func (ca *CA) ServerTLSConfig(names ...string) *tls.Config {
	if len(names) == 0 {
		return &tls.Config{GetCertificate: ca.GetCertificate, MinVersion: tls.VersionTLS12}
	}
	names = append([]string(nil), names...)
	var (
		once sync.Once
		cert tls.Certificate
		err  error
	)
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			once.Do(func() { cert, err = ca.Issue(names...) })
			if err != nil {
				return nil, err
			}
			return &cert, nil
		},
	}
}

// Issue issues a leaf certificate for server authentication. Each name is a
// DNS name ("www.example.com", "*.example.com") or an IP address literal
// ("192.0.2.1", "2001:db8::1"), which becomes an IP SAN. The first name is
// also the subject common name.
func (ca *CA) Issue(names ...string) (tls.Certificate, error) {
	var dnsNames []string
	var addrs []netip.Addr
	for _, n := range names {
		if a, err := netip.ParseAddr(n); err == nil {
			addrs = append(addrs, a)
			continue
		}
		dnsNames = append(dnsNames, n)
	}
	return ca.IssueSANs(dnsNames, addrs)
}

// IssueSANs issues a leaf certificate for the given DNS names and IP
// addresses; at least one of either is needed.
func (ca *CA) IssueSANs(dnsNames []string, addrs []netip.Addr) (tls.Certificate, error) {
	if len(dnsNames) == 0 && len(addrs) == 0 {
		return tls.Certificate{}, errors.New("pki: no names to issue a certificate for")
	}
	tmpl := &x509.Certificate{
		SerialNumber:   new(big.Int).SetUint64(ca.serial.Add(1)),
		NotBefore:      ca.now().Add(-backdate),
		KeyUsage:       x509.KeyUsageDigitalSignature,
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		AuthorityKeyId: ca.cert.SubjectKeyId,
	}
	tmpl.NotAfter = tmpl.NotBefore.Add(leafValidity)
	for _, n := range dnsNames {
		n = strings.TrimSuffix(strings.ToLower(n), ".")
		if n == "" || strings.ContainsAny(n, " /:") {
			return tls.Certificate{}, fmt.Errorf("pki: invalid DNS name %q", n)
		}
		tmpl.DNSNames = append(tmpl.DNSNames, n)
	}
	for _, a := range addrs {
		if !a.IsValid() {
			return tls.Certificate{}, errors.New("pki: invalid IP address")
		}
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.IP(a.Unmap().AsSlice()))
	}
	if len(tmpl.DNSNames) > 0 {
		tmpl.Subject.CommonName = tmpl.DNSNames[0]
	} else {
		tmpl.Subject.CommonName = addrs[0].String()
	}
	der, err := x509.CreateCertificate(cryptoRand{}, tmpl, ca.cert, &ca.leafKey.PublicKey, ca.key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: issuing certificate for %v %v: %w", dnsNames, addrs, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: parsing issued certificate: %w", err)
	}
	return tls.Certificate{
		Certificate: [][]byte{der},
		PrivateKey:  ca.leafKey,
		Leaf:        leaf,
	}, nil
}

// GetCertificate is suitable for tls.Config.GetCertificate: it issues a
// certificate for the SNI name of the ClientHello (or, when the client sent
// none, for the local address the connection arrived on), caching it.
// Concurrent handshakes for the same name share one issuance.
func (ca *CA) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := strings.TrimSuffix(strings.ToLower(hello.ServerName), ".")
	if name == "" {
		if hello.Conn == nil {
			return nil, errors.New("pki: client sent no server name")
		}
		ap, err := netip.ParseAddrPort(hello.Conn.LocalAddr().String())
		if err != nil {
			return nil, fmt.Errorf("pki: client sent no server name and local address %q is not an IP: %w",
				hello.Conn.LocalAddr().String(), err)
		}
		name = ap.Addr().Unmap().WithZone("").String()
	}
	return ca.cached(name)
}

func (ca *CA) cached(name string) (*tls.Certificate, error) {
	ca.mu.Lock()
	f, ok := ca.flight[name]
	if !ok {
		if len(ca.flight) >= maxCached {
			for k, v := range ca.flight {
				select {
				case <-v.done:
					delete(ca.flight, k)
				default: // keep issuances in progress
				}
			}
		}
		f = &flight{done: make(chan struct{})}
		ca.flight[name] = f
	}
	ca.mu.Unlock()
	if ok {
		<-f.done
		return f.cert, f.err
	}
	cert, err := ca.Issue(name)
	if err != nil {
		f.err = err
		ca.mu.Lock()
		delete(ca.flight, name) // do not cache failures
		ca.mu.Unlock()
	} else {
		f.cert = &cert
	}
	close(f.done)
	return f.cert, f.err
}

// WriteBundle writes the CA certificate, PEM-encoded, to path (atomically,
// mode 0644): the bundle a client is told to trust.
func (ca *CA) WriteBundle(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".bundle-*")
	if err != nil {
		return fmt.Errorf("pki: writing bundle: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(ca.certPEM); err != nil {
		tmp.Close()
		return fmt.Errorf("pki: writing bundle: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("pki: writing bundle: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("pki: writing bundle: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("pki: writing bundle: %w", err)
	}
	return nil
}

// deriveKey makes a P-256 key from scalar bytes read from rand, so that a
// seeded reader gives the same key (ecdsa.GenerateKey ignores its reader
// since Go 1.26).
func deriveKey(rand io.Reader) (*ecdsa.PrivateKey, error) {
	var buf [32]byte
	for range 100 {
		if _, err := io.ReadFull(rand, buf[:]); err != nil {
			return nil, fmt.Errorf("pki: reading randomness: %w", err)
		}
		// ParseRawPrivateKey rejects zero and scalars not below the order:
		// draw again, which happens with probability about 2^-32.
		if k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), buf[:]); err == nil {
			return k, nil
		}
	}
	return nil, errors.New("pki: randomness source gives no valid P-256 scalar")
}

// keyID is the subject key identifier of pub (RFC 7093 method 1: the
// leftmost 160 bits of the SHA-256 of the public key).
func keyID(pub *ecdsa.PublicKey) []byte {
	b, err := pub.Bytes()
	if err != nil {
		return nil
	}
	h := sha256.Sum256(b)
	return h[:20]
}
