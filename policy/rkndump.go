package policy

import (
	"bufio"
	"io"
	"net/netip"
	"net/url"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/encoding/charmap"
)

// parseRKNDump reads a Roskomnadzor registry dump (zapret-info's dump.csv):
// an optional "Updated: ..." line, then rows
//
//	1.2.3.4 | 5.6.7.0/24;example.com;http://example.com/page;Роскомнадзор;27-31-2018/Ид2971-18;2018-04-16
//
// It takes each row's domain (its URL's host when the domain field is
// empty), or with addrs its addresses and subnets. Rows with fewer than
// three fields are reported; a row that names nothing usable is skipped.
// Lines that are not UTF-8 are read as Windows-1251 (the mirror's
// encoding); names outside ASCII become their punycode form.
func parseRKNDump(r io.Reader, name string, addrs bool) ([]listItem, error) {
	e := &Error{}
	var items []listItem
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	dec := charmap.Windows1251.NewDecoder()
	n := 0
	add := func(v string, pos Pos) {
		if v != "" && !seen[v] {
			seen[v] = true
			items = append(items, listItem{v, pos})
		}
	}
	for sc.Scan() {
		n++
		line := sc.Text()
		if !utf8.ValidString(line) {
			if s, err := dec.String(line); err == nil {
				line = s
			}
		}
		line = strings.TrimSpace(strings.TrimPrefix(line, "\ufeff"))
		if line == "" || line[0] == '#' || (n == 1 && strings.HasPrefix(line, "Updated:")) {
			continue
		}
		pos := Pos{File: name, Line: n}
		f := strings.Split(line, ";")
		if len(f) < 3 {
			e.add(pos, "", "rkn-dump row has %d fields, want at least 3 (addresses;domain;url;...)", len(f))
			continue
		}
		if addrs {
			for a := range strings.SplitSeq(f[0], "|") {
				a = strings.TrimSpace(a)
				if a == "" {
					continue
				}
				p, err := parsePrefixItem(a)
				if err != nil {
					e.add(pos, "", "rkn-dump: %v", err)
					continue
				}
				add(p.String(), pos)
			}
			continue
		}
		host := strings.TrimSpace(f[1])
		if host == "" {
			u, err := url.Parse(strings.Trim(strings.TrimSpace(f[2]), `"`))
			if err != nil || u.Hostname() == "" {
				continue // a row of addresses only
			}
			host = u.Hostname()
		}
		host = strings.ToLower(strings.TrimSuffix(host, "."))
		if _, err := netip.ParseAddr(host); err == nil {
			continue // an address where a name would be
		}
		wild := strings.HasPrefix(host, "*.")
		ascii, err := idna.Lookup.ToASCII(strings.TrimPrefix(host, "*."))
		if err == nil {
			host = ascii
			if wild {
				host = "*." + host
			}
		}
		if err := checkDomain(host); err != nil {
			e.add(pos, "", "rkn-dump: %v", err)
			continue
		}
		add(host, pos)
	}
	if err := sc.Err(); err != nil {
		e.add(Pos{File: name, Line: n + 1}, "", "%v", err)
	}
	return items, e.errOrNil()
}
