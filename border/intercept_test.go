package border_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestTLSInterception(t *testing.T) {
	l := newLab(t, `
lists:
  names: {kind: domains, items: [blocked.com]}
rules:
  - id: intercept
    source: test
    year: 2019
    scope: {protocols: [tcp], ports: [443], direction: outbound}
    match: [{tls-sni: {list: names}}]
    actions: [{intercept: {ca: Qaznet Trust Network}}]
`, false)
	// A flow whose SNI is not listed is spliced to the real server.
	status, body, err := httpGet(l.client, "https://www.allowed.com/")
	if err != nil || status != 200 || !strings.Contains(body, "<title>") {
		t.Fatalf("spliced HTTPS: %d %v", status, err)
	}
	// A listed one is intercepted: the world's clients do not trust the
	// national CA.
	_, _, err = httpGet(l.client, "https://www.blocked.com/")
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("intercepted HTTPS without the national CA: %v, want an unknown authority", err)
	}
	// A user who installed it gets the page, signed by the national CA.
	ca, err := l.engines["XX"].NationalCA("Qaznet Trust Network")
	if err != nil {
		t.Fatal(err)
	}
	cfg := l.client.TLSConfig("")
	cfg.RootCAs.AddCert(ca.Certificate())
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: l.client.DialContext, TLSClientConfig: cfg}}
	resp, err := c.Get("https://www.blocked.com/")
	if err != nil {
		t.Fatalf("intercepted HTTPS with the national CA installed: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "<title>") {
		t.Fatalf("intercepted page: %d", resp.StatusCode)
	}
	if iss := resp.TLS.PeerCertificates[0].Issuer.CommonName; !strings.Contains(iss, "Qaznet") {
		t.Fatalf("certificate issued by %q", iss)
	}
	if got := rules(l.decisions()); got != "intercept:intercept intercept:intercept" {
		t.Fatalf("decisions %q", got)
	}
	_ = tls.VersionTLS13
}
