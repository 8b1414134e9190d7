package strategy

import "encoding/binary"

// TCP options, as Geneva handles them through scapy
// (layers/tcp_layer.py: get_options, set_options, gen_options,
// format_option; scapy/layers/inet.py: TCPOptionsField.m2i and i2m).

// tcpOpt is one option in scapy's list. A parsed option keeps its raw data;
// an option Geneva sets carries the value it was given.
type tcpOpt struct {
	kind byte
	data []byte // raw value bytes (parsed, or bytes Geneva set)
	// Set by Geneva with an integer (isNum) rather than bytes.
	num   int64
	isNum bool
	set   bool
}

// scapy's struct formats for the options it names, as value sizes; 0 means
// no format (the value is raw bytes).
func scapySize(kind byte) (size int, known bool) {
	switch kind {
	case 2, 28: // MSS, UTO: !H
		return 2, true
	case 3: // WScale: !B
		return 1, true
	case 8, 34: // Timestamp, TFO: !II
		return 8, true
	case 14: // AltChkSum: !BH
		return 3, true
	case 4, 15, 29: // SAckOK, AltChkSumOpt, AO: no format
		return 0, true
	case 5, 19, 25: // SAck (!nI), MD5 (16s), Mood (!p): handled apart
		return 0, true
	}
	return 0, false
}

// optIter walks options as TCPOptionsField.m2i does: EOL ends the list,
// an announced length below 2 counts as 2, and a value runs at most to the
// end.
type optIter struct {
	x    []byte
	done bool
}

func (it *optIter) next() (tcpOpt, bool) {
	if it.done || len(it.x) == 0 {
		return tcpOpt{}, false
	}
	x := it.x
	k := x[0]
	switch k {
	case 0:
		it.done = true
		return tcpOpt{kind: 0}, true
	case 1:
		it.x = x[1:]
		return tcpOpt{kind: 1}, true
	}
	olen := 0
	if len(x) > 1 {
		olen = int(x[1])
	}
	olen = max(olen, 2)
	end := min(olen, len(x))
	var data []byte
	if end > 2 {
		data = x[2:end]
	}
	it.x = x[end:]
	return tcpOpt{kind: k, data: data}, true
}

// parseOptions is TCPOptionsField.m2i.
func parseOptions(x []byte) []tcpOpt {
	var out []tcpOpt
	it := optIter{x: x}
	for o, ok := it.next(); ok; o, ok = it.next() {
		out = append(out, o)
	}
	return out
}

// serializeOptions is TCPOptionsField.i2m followed by its zero padding to a
// multiple of 4. ok is false when scapy would fail to pack an option.
func serializeOptions(opts []tcpOpt) (out []byte, ok bool) {
	for _, o := range opts {
		switch o.kind {
		case 0:
			out = append(out, 0)
			continue
		case 1:
			out = append(out, 1)
			continue
		}
		var val []byte
		if o.set {
			v, skip, good := setValueBytes(o)
			if !good {
				return nil, false
			}
			if skip {
				continue
			}
			val = v
		} else {
			val = o.data
			switch o.kind {
			case 19: // MD5: packed with "16s" when its size was not 16
				if len(val) != 16 {
					v := make([]byte, 16)
					copy(v, val)
					val = v
				}
			case 25: // Mood: "!p" unpacks one byte to an empty string
				if len(val) == 1 {
					val = nil
				}
			}
		}
		if 2+len(val) > 255 {
			return nil, false
		}
		out = append(out, o.kind, byte(2+len(val)))
		out = append(out, val...)
	}
	for len(out)%4 != 0 {
		out = append(out, 0)
	}
	return out, true
}

// setValueBytes encodes a value Geneva set with format_option. skip is true
// for an option scapy skips with a warning (an integer for MD5, which
// Geneva leaves unnamed); ok is false for one it cannot pack.
func setValueBytes(o tcpOpt) (val []byte, skip, ok bool) {
	if !o.isNum {
		if o.kind == 8 || o.kind == 14 {
			// format_option makes (bytes, 0), which "!II" / "!BH" cannot pack.
			return nil, false, false
		}
		return o.data, false, true
	}
	v := o.num
	switch o.kind {
	case 2, 28: // ("MSS"|"UTO", v): !H
		if v < 0 || v > 0xffff {
			return nil, false, false
		}
		return binary.BigEndian.AppendUint16(nil, uint16(v)), false, true
	case 3: // ("WScale", v): !B
		if v < 0 || v > 0xff {
			return nil, false, false
		}
		return []byte{byte(v)}, false, true
	case 8: // ("Timestamp", (v, 0)): !II
		if v < 0 || v > 0xffffffff {
			return nil, false, false
		}
		return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, uint32(v)), 0), false, true
	case 14: // ("AltChkSum", (v, 0)): !BH
		if v < 0 || v > 0xff {
			return nil, false, false
		}
		return []byte{byte(v), 0, 0}, false, true
	case 19: // (19, v): an unnamed option must be bytes
		return nil, true, true
	}
	// SAckOK, AltChkSumOpt (no format) and SAck (a count of integers) fail
	// on an integer.
	return nil, false, false
}

// optionMatches reports whether Geneva's option_str_to_int maps an option
// of scapy's list to kind: it knows scapy's names for these kinds only, so
// an MD5 option read off the wire (which scapy calls "MD5", Geneva
// "md5header") never matches, while one Geneva set (named 19) does.
func optionMatches(o tcpOpt, kind byte) bool {
	if o.set {
		return o.kind == kind
	}
	switch o.kind {
	case 0, 1, 2, 3, 4, 5, 8, 14, 15, 28:
		return o.kind == kind
	}
	return false
}

func (w *wire) options() []byte {
	return w.b[w.ipHdr+20 : w.ipHdr+w.tcpHdr]
}

// optionValue is get_options: the first option of that kind, as an
// integer (the first element of a tuple), or "" when absent or empty.
func (w *wire) optionValue(kind byte) gval {
	if w.optsLive {
		for _, o := range w.opts {
			if optionMatches(o, kind) {
				return optionGval(o)
			}
		}
		return gval{}
	}
	it := optIter{x: w.options()}
	for o, ok := it.next(); ok; o, ok = it.next() {
		if optionMatches(o, kind) {
			return optionGval(o)
		}
	}
	return gval{}
}

func optionGval(o tcpOpt) gval {
	if o.set {
		switch {
		case o.kind == 0 || o.kind == 1:
			return gval{}
		case o.isNum:
			return gval{num: o.num, isNum: true}
		case len(o.data) == 0:
			return gval{}
		}
		return gval{opaque: true}
	}
	switch o.kind {
	case 0, 1:
		return gval{}
	case 5: // SAck: a tuple of integers when the size is a multiple of 4
		if len(o.data) == 0 {
			return gval{}
		}
		if len(o.data)%4 == 0 {
			return gval{num: int64(binary.BigEndian.Uint32(o.data)), isNum: true}
		}
		return gval{opaque: true}
	}
	size, _ := scapySize(o.kind)
	if size == 0 || len(o.data) != size {
		if len(o.data) == 0 {
			return gval{}
		}
		return gval{opaque: true}
	}
	switch size {
	case 1:
		return gval{num: int64(o.data[0]), isNum: true}
	case 2:
		return gval{num: int64(binary.BigEndian.Uint16(o.data)), isNum: true}
	case 3:
		return gval{num: int64(o.data[0]), isNum: true}
	case 8:
		return gval{num: int64(binary.BigEndian.Uint32(o.data)), isNum: true}
	}
	return gval{}
}

// setOption is set_options: replace the first option of that kind in
// place, or append one, then rebuild the options and let scapy recompute
// the data offset, the TCP checksum, the IP length and checksum.
func (w *wire) setOption(f Field, o tcpOpt) {
	o.kind = f.info().opt
	o.set = true
	if !o.isNum {
		// set_options: these options must be integers when empty.
		switch o.kind {
		case 2, 3, 8, 14, 28:
			if len(o.data) == 0 {
				o.isNum, o.num = true, 0
			}
		case 5:
			o.data = nil // SAck is always an empty tuple
		}
	}
	if !w.optsLive {
		w.opts = parseOptions(w.options())
		for i := range w.opts {
			w.opts[i].data = append([]byte(nil), w.opts[i].data...)
		}
		w.optsLive = true
	}
	opts := w.opts
	found := false
	for i := range opts {
		if optionMatches(opts[i], o.kind) {
			opts[i] = o
			found = true
			break
		}
	}
	if !found {
		opts = append(opts, o)
		w.opts = opts
	}
	ser, ok := serializeOptions(opts)
	if !ok {
		w.bad = f
		ser = w.options()
	} else if w.bad == f {
		w.bad = 0
	}
	start := w.ipHdr + 20
	rest := w.b[w.ipHdr+w.tcpHdr:]
	nb := make([]byte, 0, start+len(ser)+len(rest))
	nb = append(nb, w.b[:start]...)
	nb = append(nb, ser...)
	nb = append(nb, rest...)
	w.b = nb
	w.tcpHdr = 20 + len(ser)
	w.delTCPOff, w.delTCPSum, w.delIPLen, w.delIPSum = true, true, true, true
}
