package backend

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// clientAddr is the address a request came from.
func clientAddr(r *http.Request) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

// cloudflareTrace answers as www.cloudflare.com/cdn-cgi/trace does: lines
// of key=value, the client's address on the "ip" line (probe-cli reads the
// first "ip=").
func (b *Backend) cloudflareTrace(w http.ResponseWriter, r *http.Request) {
	a, ok := clientAddr(r)
	if !ok {
		http.Error(w, "no client address", http.StatusInternalServerError)
		return
	}
	now := b.cfg.Clock.Now()
	scheme, tlsv := "http", "off"
	if r.TLS != nil {
		scheme, tlsv = "https", "TLSv1.3"
	}
	loc := b.country(a)
	if loc == "" {
		loc = "XX"
	}
	host := strings.Map(func(c rune) rune {
		if c < ' ' || c > '~' {
			return -1
		}
		return c
	}, r.Host)
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "fl=0splinter\nh=%s\nip=%s\nts=%d.%03d\nvisit_scheme=%s\ncolo=SPL\nhttp=http/%d.%d\nloc=%s\ntls=%s\nwarp=off\ngateway=off\n",
		host, a, now.Unix(), now.Nanosecond()/1e6, scheme, r.ProtoMajor, r.ProtoMinor, loc, tlsv)
}

// ubuntuResponse is geoip.ubuntu.com/lookup's answer, the fields we know.
type ubuntuResponse struct {
	XMLName     xml.Name `xml:"Response"`
	IP          string   `xml:"Ip"`
	Status      string   `xml:"Status"`
	CountryCode string   `xml:"CountryCode"`
}

// ubuntuLookup answers as geoip.ubuntu.com/lookup does: an XML Response
// whose Ip is the client's address.
func (b *Backend) ubuntuLookup(w http.ResponseWriter, r *http.Request) {
	a, ok := clientAddr(r)
	if !ok {
		http.Error(w, "no client address", http.StatusInternalServerError)
		return
	}
	out, err := xml.Marshal(ubuntuResponse{IP: a.String(), Status: "OK", CountryCode: b.country(a)})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	_, _ = w.Write(append([]byte(xml.Header), out...))
}

// plainIP answers the client's address and a newline.
func (b *Backend) plainIP(w http.ResponseWriter, r *http.Request) {
	a, ok := clientAddr(r)
	if !ok {
		http.Error(w, "no client address", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, a)
}

func (b *Backend) country(a netip.Addr) string {
	if b.cfg.Country == nil {
		return ""
	}
	return b.cfg.Country(a)
}
