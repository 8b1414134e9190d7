package dissect

// BuildClientHello returns a minimal ClientHello in one TLS record: a TLS
// 1.2 legacy version, one cipher suite, a server_name extension for sni (none
// if sni is empty) and then the given extensions, each a whole extension as
// TLSExtension makes. It exists for tests and evasion experiments that need
// extensions crypto/tls does not send (ESNI, a hand-made ECH); it is not a
// usable handshake.
func BuildClientHello(sni string, extensions ...[]byte) []byte {
	var exts []byte
	if sni != "" {
		n := len(sni)
		list := append([]byte{byte((n + 3) >> 8), byte(n + 3), 0, byte(n >> 8), byte(n)}, sni...)
		exts = append(exts, TLSExtension(0, list)...)
	}
	for _, x := range extensions {
		exts = append(exts, x...)
	}
	ch := []byte{3, 3}
	ch = append(ch, make([]byte, 32)...) // random
	ch = append(ch, 0)                   // session id
	ch = append(ch, 0, 2, 0x13, 0x01)    // cipher suites
	ch = append(ch, 1, 0)                // compression methods
	ch = append(ch, byte(len(exts)>>8), byte(len(exts)))
	ch = append(ch, exts...)
	hs := append([]byte{1, 0, byte(len(ch) >> 8), byte(len(ch))}, ch...)
	return append([]byte{0x16, 3, 1, byte(len(hs) >> 8), byte(len(hs))}, hs...)
}

// TLSExtension returns one TLS extension: its code, length and body.
func TLSExtension(code uint16, body []byte) []byte {
	return append([]byte{byte(code >> 8), byte(code), byte(len(body) >> 8), byte(len(body))}, body...)
}
