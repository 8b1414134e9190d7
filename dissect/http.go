package dissect

import "bytes"

// httpMethods are the request methods the parser accepts, as the GFW's HTTP
// box requires a valid one.
var httpMethods = [...]string{"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "CONNECT", "PATCH", "TRACE"}

// RequestHead is what a censor reads from an HTTP/1.x request head. The zero
// value is ready for use. Byte-slice results are sub-slices of the parsed
// input, valid while it is unchanged.
type RequestHead struct {
	// Complete says the blank line ending the head was seen; HeadLength is then
	// the offset just after it.
	Complete   bool
	HeadLength int
	// Headers counts the header lines parsed (continuation lines excluded).
	Headers int
	// HasHost says a Host header was seen; the first one is kept.
	HasHost bool
	// VersionMinor is 0 or 1 for HTTP/1.0 or HTTP/1.1.
	VersionMinor int

	method, target, version, host []byte
}

// Method returns the request method, e.g. "GET".
func (r *RequestHead) Method() []byte { return r.method }

// Target returns the request target (path, absolute URI, authority or "*").
func (r *RequestHead) Target() []byte { return r.target }

// Version returns the protocol version, "HTTP/1.0" or "HTTP/1.1".
func (r *RequestHead) Version() []byte { return r.version }

// Host returns the first Host header's value with surrounding spaces and tabs
// trimmed, or nil.
func (r *RequestHead) Host() []byte { return r.host }

// ParseRequestHead parses the HTTP/1.x request head at the start of b, the
// client-to-server bytes of a TCP connection.
//
// The request line must be exactly "METHOD SP target SP HTTP/1.x" with one of
// GET POST HEAD PUT DELETE OPTIONS CONNECT PATCH TRACE, a non-empty target of
// visible ASCII, and version HTTP/1.0 or HTTP/1.1; anything else (an unknown
// method, a corrupted version, an extra element) gives ErrNotHTTP, which is
// how the GFW's strictness lets such requests through. Lines end with LF,
// optionally preceded by CR. Header lines are "name: value"; a Host name is
// matched case-insensitively and must have no space before the colon; lines
// without a colon and continuation lines are skipped. An obsolete line
// folding (RFC 9112 §5.2: a line starting with a space or tab continues the
// previous header) is not unfolded: the Host is the value on the Host line
// alone, as a line-oriented censor reads it (see the package doc).
//
// ErrIncomplete means b ends before the blank line ending the head (or before
// the request line can be judged); the fields found so far are set, and a Host
// header counts once its line is complete.
func ParseRequestHead(b []byte, r *RequestHead) error {
	*r = RequestHead{}
	// Method.
	sp := indexByte(b, ' ', 8)
	if sp < 0 {
		if len(b) >= 8 || !isMethodPrefix(b) {
			return ErrNotHTTP
		}
		return ErrIncomplete
	}
	if !isMethod(b[:sp]) {
		return ErrNotHTTP
	}
	r.method = b[:sp]
	off := sp + 1

	// Request target: visible ASCII up to the next space.
	i := off
	for i < len(b) && b[i] > ' ' && b[i] < 0x7f {
		i++
	}
	if i == len(b) {
		return ErrIncomplete
	}
	if b[i] != ' ' || i == off {
		return ErrNotHTTP
	}
	r.target = b[off:i]
	off = i + 1

	// Version, then the line end.
	const proto = "HTTP/1."
	for j := 0; j < len(proto)+1; j++ {
		if off+j >= len(b) {
			return ErrIncomplete
		}
		c := b[off+j]
		if j < len(proto) && c != proto[j] || j == len(proto) && c != '0' && c != '1' {
			return ErrNotHTTP
		}
	}
	r.version = b[off : off+len(proto)+1]
	r.VersionMinor = int(b[off+len(proto)] - '0')
	off += len(proto) + 1
	next, ok, err := lineEnd(b, off)
	if err != nil {
		return err
	}
	if !ok {
		return ErrNotHTTP // an extra element or junk after the version
	}
	off = next

	// Header lines until an empty line.
	for {
		nl := bytes.IndexByte(b[off:], '\n')
		if nl < 0 {
			return ErrIncomplete
		}
		line := b[off : off+nl]
		off += nl + 1
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if len(line) == 0 {
			r.Complete = true
			r.HeadLength = off
			return nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue // obs-fold continuation: not followed
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		r.Headers++
		if !r.HasHost && asciiEqualFold(line[:colon], "host") {
			r.HasHost = true
			r.host = trimSpaceTab(line[colon+1:])
		}
	}
}

// lineEnd reports whether b[off:] starts with LF or CRLF and returns the
// offset after it; ErrIncomplete if b ends first.
func lineEnd(b []byte, off int) (int, bool, error) {
	if off >= len(b) {
		return 0, false, ErrIncomplete
	}
	switch b[off] {
	case '\n':
		return off + 1, true, nil
	case '\r':
		if off+1 >= len(b) {
			return 0, false, ErrIncomplete
		}
		return off + 2, b[off+1] == '\n', nil
	}
	return 0, false, nil
}

func isMethod(m []byte) bool {
	for _, k := range httpMethods {
		if string(m) == k {
			return true
		}
	}
	return false
}

func isMethodPrefix(m []byte) bool {
	for _, k := range httpMethods {
		if len(m) <= len(k) && string(m) == k[:len(m)] {
			return true
		}
	}
	return false
}

// indexByte returns the index of c in b[:limit], or -1.
func indexByte(b []byte, c byte, limit int) int {
	for i := 0; i < len(b) && i < limit; i++ {
		if b[i] == c {
			return i
		}
	}
	return -1
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

func trimSpaceTab(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
