package dissect_test

import (
	"errors"
	"fmt"

	"github.com/splinter-lab/splinter/dissect"
)

// A DNS injector reads the question name and copies the query up to
// QuestionEnd into its forged answer.
func ExampleParseDNS() {
	query := []byte{
		0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, // ID, RD, QDCOUNT=1
		3, 'W', 'W', 'W', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
		0, 28, 0, 1, // AAAA, IN
	}
	var m dissect.DNSMessage
	if err := dissect.ParseDNS(query, &m); err != nil {
		panic(err)
	}
	fmt.Println(m.NameString(), m.QType, m.RD(), m.QuestionEnd)
	// Output: www.example.com 28 true 33
}

// A censor that reads only the first TLS record misses a ClientHello split
// over two records; one that reassembles does not.
func ExampleSplitClientHelloRecords() {
	hello := []byte{
		0x16, 0x03, 0x01, 0x00, 0x41, // record header
		0x01, 0x00, 0x00, 0x3d, // ClientHello, 61 bytes
		0x03, 0x03, // legacy_version
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // random
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0x00,                   // session id
		0x00, 0x02, 0x13, 0x01, // cipher suites
		0x01, 0x00, // compression
		0x00, 0x12, // extensions
		0x00, 0x00, 0x00, 0x0e, 0x00, 0x0c, 0x00, 0x00, 0x09, 'x', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e',
	}
	split, err := dissect.SplitClientHelloRecords(hello, 10)
	if err != nil {
		panic(err)
	}
	var h dissect.ClientHello
	err = dissect.ParseClientHello(split, dissect.HelloOptions{}, &h)
	fmt.Println(errors.Is(err, dissect.ErrSplitRecord))
	err = dissect.ParseClientHello(split, dissect.HelloOptions{ReassembleRecords: true}, &h)
	fmt.Println(err, string(h.ServerName()), h.Records)
	// Output:
	// true
	// <nil> x.example 2
}

// Plain ASCII text has few set bits per byte, so Ex1 already exempts it;
// random-looking bytes with about 4 set bits per byte are not exempt.
func ExampleFullyEncryptedExempt() {
	fmt.Println(dissect.FullyEncryptedExempt([]byte("GET / HTTP/1.1\r\n")))
	fmt.Println(dissect.FullyEncryptedExempt([]byte{0x0f, 0xf0, 0x87, 0x99, 0xaa, 0xc3, 0x1e, 0xe1}))
	// Output:
	// true ex1
	// false
}
