package strategy

// Proto is a protocol layer a trigger or a tamper names.
type Proto uint8

// The layers of Geneva's strategy language (layers/*.py in Kkevsterrr/geneva).
// DNS and DNSQR exist in Geneva but are refused by Parse: see ErrDNS.
const (
	IP Proto = iota + 1
	TCP
	UDP
)

func (p Proto) String() string {
	switch p {
	case IP:
		return "IP"
	case TCP:
		return "TCP"
	case UDP:
		return "UDP"
	}
	return "?"
}

// Field is a header field (or a payload, or a TCP option) of one layer.
type Field uint8

// The fields Geneva can trigger on and tamper with, in the order its layer
// classes list them (layers/ip_layer.py, layers/tcp_layer.py,
// layers/udp_layer.py). The zero Field is invalid.
const (
	IPVersion Field = iota + 1
	IPIHL
	IPTOS
	IPLen
	IPID
	IPFlags
	IPFrag
	IPTTL
	IPProto
	IPChksum
	IPSrc
	IPDst
	IPLoad

	TCPSport
	TCPDport
	TCPSeq
	TCPAck
	TCPDataofs
	TCPReserved
	TCPFlags
	TCPWindow
	TCPChksum
	TCPUrgptr
	TCPLoad
	TCPOptEOL
	TCPOptNOP
	TCPOptMSS
	TCPOptWScale
	TCPOptSAckOK
	TCPOptSAck
	TCPOptTimestamp
	TCPOptAltChksum
	TCPOptAltChksumOpt
	TCPOptMD5Header
	TCPOptUTO

	UDPSport
	UDPDport
	UDPChksum
	UDPLen
	UDPLoad

	numFields
)

// valueKind says how a field's value is written and compared.
type valueKind uint8

const (
	kindNum      valueKind = iota // an integer header field
	kindIPFlags                   // IPv4 flags by name: MF, DF, evil, joined by +
	kindTCPFlags                  // TCP flags by letter: FSRPAUECN, or a number
	kindAddr                      // an IPv4 address
	kindLoad                      // a payload, percent-encoded
	kindOption                    // a TCP option: a number, hex bytes, or empty
)

type fieldInfo struct {
	proto Proto
	name  string
	kind  valueKind
	// For kindNum: the width in bits, and whether scapy masks an
	// out-of-range value into the field (bit fields) or fails to build the
	// packet (byte-aligned fields).
	bits   uint8
	masked bool
	// For kindOption: the TCP option kind.
	opt byte
}

var fields = [numFields]fieldInfo{
	IPVersion: {IP, "version", kindNum, 4, true, 0},
	IPIHL:     {IP, "ihl", kindNum, 4, true, 0},
	IPTOS:     {IP, "tos", kindNum, 8, false, 0},
	IPLen:     {IP, "len", kindNum, 16, false, 0},
	IPID:      {IP, "id", kindNum, 16, false, 0},
	IPFlags:   {IP, "flags", kindIPFlags, 3, true, 0},
	IPFrag:    {IP, "frag", kindNum, 13, true, 0},
	IPTTL:     {IP, "ttl", kindNum, 8, false, 0},
	IPProto:   {IP, "proto", kindNum, 8, false, 0},
	IPChksum:  {IP, "chksum", kindNum, 16, false, 0},
	IPSrc:     {IP, "src", kindAddr, 0, false, 0},
	IPDst:     {IP, "dst", kindAddr, 0, false, 0},
	IPLoad:    {IP, "load", kindLoad, 0, false, 0},

	TCPSport:           {TCP, "sport", kindNum, 16, false, 0},
	TCPDport:           {TCP, "dport", kindNum, 16, false, 0},
	TCPSeq:             {TCP, "seq", kindNum, 32, false, 0},
	TCPAck:             {TCP, "ack", kindNum, 32, false, 0},
	TCPDataofs:         {TCP, "dataofs", kindNum, 4, true, 0},
	TCPReserved:        {TCP, "reserved", kindNum, 3, true, 0},
	TCPFlags:           {TCP, "flags", kindTCPFlags, 9, true, 0},
	TCPWindow:          {TCP, "window", kindNum, 16, false, 0},
	TCPChksum:          {TCP, "chksum", kindNum, 16, false, 0},
	TCPUrgptr:          {TCP, "urgptr", kindNum, 16, false, 0},
	TCPLoad:            {TCP, "load", kindLoad, 0, false, 0},
	TCPOptEOL:          {TCP, "options-eol", kindOption, 0, false, 0},
	TCPOptNOP:          {TCP, "options-nop", kindOption, 0, false, 1},
	TCPOptMSS:          {TCP, "options-mss", kindOption, 0, false, 2},
	TCPOptWScale:       {TCP, "options-wscale", kindOption, 0, false, 3},
	TCPOptSAckOK:       {TCP, "options-sackok", kindOption, 0, false, 4},
	TCPOptSAck:         {TCP, "options-sack", kindOption, 0, false, 5},
	TCPOptTimestamp:    {TCP, "options-timestamp", kindOption, 0, false, 8},
	TCPOptAltChksum:    {TCP, "options-altchksum", kindOption, 0, false, 14},
	TCPOptAltChksumOpt: {TCP, "options-altchksumopt", kindOption, 0, false, 15},
	TCPOptMD5Header:    {TCP, "options-md5header", kindOption, 0, false, 19},
	TCPOptUTO:          {TCP, "options-uto", kindOption, 0, false, 28},

	UDPSport:  {UDP, "sport", kindNum, 16, false, 0},
	UDPDport:  {UDP, "dport", kindNum, 16, false, 0},
	UDPChksum: {UDP, "chksum", kindNum, 16, false, 0},
	UDPLen:    {UDP, "len", kindNum, 16, false, 0},
	UDPLoad:   {UDP, "load", kindLoad, 0, false, 0},
}

// Proto returns the layer the field belongs to.
func (f Field) Proto() Proto {
	if f == 0 || f >= numFields {
		return 0
	}
	return fields[f].proto
}

// Name returns the field's name as the language writes it ("ttl",
// "options-mss").
func (f Field) Name() string {
	if f == 0 || f >= numFields {
		return "?"
	}
	return fields[f].name
}

// String returns PROTO:name.
func (f Field) String() string { return f.Proto().String() + ":" + f.Name() }

func (f Field) info() *fieldInfo { return &fields[f] }

// Fields returns every field of the language, in a fixed order.
func Fields() []Field {
	out := make([]Field, 0, numFields-1)
	for f := Field(1); f < numFields; f++ {
		out = append(out, f)
	}
	return out
}

func lookupField(p Proto, name string) Field {
	for f := Field(1); f < numFields; f++ {
		if fields[f].proto == p && fields[f].name == name {
			return f
		}
	}
	return 0
}

func lookupProto(s string) Proto {
	switch s {
	case "IP":
		return IP
	case "TCP":
		return TCP
	case "UDP":
		return UDP
	}
	return 0
}

// TCP flag letters in bit order, as scapy's TCP FlagsField names them
// (scapy/layers/inet.py: FlagsField("flags", 0x2, 9, "FSRPAUECN")): N is
// the NS bit, the low bit of the byte that holds the data offset.
const tcpFlagLetters = "FSRPAUECN"

// IPv4 flag names in bit order (scapy/layers/inet.py:
// FlagsField("flags", 0, 3, ["MF", "DF", "evil"])).
var ipFlagNames = [3]string{"MF", "DF", "evil"}

// parseTCPFlags turns letters into the 9-bit flags value; ok is false on a
// letter scapy does not know.
func parseTCPFlags(s string) (uint16, bool) {
	var v uint16
	for i := 0; i < len(s); i++ {
		j := indexByte(tcpFlagLetters, s[i])
		if j < 0 {
			return 0, false
		}
		v |= 1 << j
	}
	return v, true
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// tcpFlagsString renders flags the way scapy's FlagValue does: the letters
// of the set bits, lowest bit first.
func tcpFlagsString(v uint16) string {
	var b [9]byte
	n := 0
	for i := 0; i < 9; i++ {
		if v&(1<<i) != 0 {
			b[n] = tcpFlagLetters[i]
			n++
		}
	}
	return string(b[:n])
}

// parseIPFlags turns "MF+DF" into the 3-bit value; "" is 0.
func parseIPFlags(s string) (uint8, bool) {
	if s == "" {
		return 0, true
	}
	var v uint8
	for len(s) > 0 {
		name := s
		rest := ""
		if i := indexByte(s, '+'); i >= 0 {
			name, rest = s[:i], s[i+1:]
			if rest == "" {
				return 0, false
			}
		}
		found := false
		for j, n := range ipFlagNames {
			if n == name {
				v |= 1 << j
				found = true
			}
		}
		if !found {
			return 0, false
		}
		s = rest
	}
	return v, true
}

// ipFlagsString renders IPv4 flags as scapy's str(FlagValue) does for a
// multi-character name list: set names, lowest bit first, joined by "+".
func ipFlagsString(v uint8) string {
	s := ""
	for i, n := range ipFlagNames {
		if v&(1<<i) != 0 {
			if s != "" {
				s += "+"
			}
			s += n
		}
	}
	return s
}
