package strategy

// Geneva reads and writes payloads through Python's text functions
// (layers/layer.py: get_load quotes the payload decoded as UTF-8 with
// errors ignored; set_load unquotes the value, encodes it as UTF-8 and
// expands two placeholders). These are their byte-exact equivalents.

const hexUpper = "0123456789ABCDEF"

// utf8Scan walks b as Python's UTF-8 decoder does, calling valid for each
// well-formed sequence and invalid for each maximal ill-formed subpart
// (Unicode's "substitution of maximal subparts", which CPython follows).
func utf8Scan(b []byte, valid func([]byte), invalid func()) {
	for i := 0; i < len(b); {
		c := b[i]
		if c < 0x80 {
			valid(b[i : i+1])
			i++
			continue
		}
		var need int
		lo, hi := byte(0x80), byte(0xbf)
		switch {
		case c >= 0xc2 && c <= 0xdf:
			need = 1
		case c == 0xe0:
			need, lo = 2, 0xa0
		case c >= 0xe1 && c <= 0xec, c == 0xee, c == 0xef:
			need = 2
		case c == 0xed:
			need, hi = 2, 0x9f
		case c == 0xf0:
			need, lo = 3, 0x90
		case c >= 0xf1 && c <= 0xf3:
			need = 3
		case c == 0xf4:
			need, hi = 3, 0x8f
		default:
			invalid()
			i++
			continue
		}
		j := i + 1
		ok := true
		for k := 0; k < need; k++ {
			if j >= len(b) {
				ok = false
				break
			}
			d := b[j]
			if k == 0 {
				if d < lo || d > hi {
					ok = false
					break
				}
			} else if d < 0x80 || d > 0xbf {
				ok = false
				break
			}
			j++
		}
		if ok {
			valid(b[i:j])
		} else {
			invalid()
		}
		i = j
	}
}

func unreserved(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
		c == '_' || c == '.' || c == '-' || c == '~'
}

// quoteLoad is urllib.parse.quote(load.decode("utf-8", "ignore")), with
// quote's default safe character "/".
func quoteLoad(load []byte) string {
	out := make([]byte, 0, len(load))
	utf8Scan(load, func(seq []byte) {
		for _, c := range seq {
			if unreserved(c) || c == '/' {
				out = append(out, c)
			} else {
				out = append(out, '%', hexUpper[c>>4], hexUpper[c&15])
			}
		}
	}, func() {})
	return string(out)
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// Payloads Geneva substitutes for placeholders in a load
// (layers/layer.py: set_load).
var (
	dnsPlaceholder  = []byte("__DNS_REQUEST__")
	httpPlaceholder = []byte("__HTTP_REQUEST__")
	dnsPayload      = []byte("\x009ib\x81\x80\x00\x01\x00\x01\x00\x00\x00\x01\x08faceface\x03com\x00\x00\x01\x00\x01\xc0\x0c\x00\x01\x00\x01\x00\x00\x01+\x00\x04\xc7\xbf2I\x00\x00)\x02\x00\x00\x00\x00\x00\x00\x00")
	httpPayload     = []byte("GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n")
)

// loadBytes is what set_load puts on the wire for value:
// urllib.parse.unquote (errors="replace"), UTF-8, placeholders expanded.
func loadBytes(value string) []byte {
	raw := make([]byte, 0, len(value))
	for i := 0; i < len(value); i++ {
		if value[i] == '%' && i+2 < len(value) {
			h, ok1 := unhex(value[i+1])
			l, ok2 := unhex(value[i+2])
			if ok1 && ok2 {
				raw = append(raw, h<<4|l)
				i += 2
				continue
			}
		}
		raw = append(raw, value[i])
	}
	out := make([]byte, 0, len(raw))
	utf8Scan(raw, func(seq []byte) { out = append(out, seq...) }, func() {
		out = append(out, 0xef, 0xbf, 0xbd) // U+FFFD
	})
	out = replaceAll(out, dnsPlaceholder, dnsPayload)
	return replaceAll(out, httpPlaceholder, httpPayload)
}

func replaceAll(b, old, nw []byte) []byte {
	var out []byte
	for {
		i := indexBytes(b, old)
		if i < 0 {
			if out == nil {
				return b
			}
			return append(out, b...)
		}
		out = append(out, b[:i]...)
		out = append(out, nw...)
		b = b[i+len(old):]
	}
}

func indexBytes(b, sub []byte) int {
	for i := 0; i+len(sub) <= len(b); i++ {
		if string(b[i:i+len(sub)]) == string(sub) {
			return i
		}
	}
	return -1
}
