package strategy

import (
	"encoding/hex"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"
)

// SyntaxError is what Parse returns for DNA it cannot read: where (byte
// Offset and 1-based Column, counted in characters), the offending token
// (empty at the end of the input), and what was expected there.
type SyntaxError struct {
	Offset   int
	Column   int
	Token    string
	Expected string
}

func (e *SyntaxError) Error() string {
	found := "end of input"
	if e.Token != "" {
		found = strconv.Quote(e.Token)
	}
	return "strategy: column " + strconv.Itoa(e.Column) + ": expected " + e.Expected + ", found " + found
}

// maxToken bounds how much of the input an error quotes.
const maxToken = 40

// maxDepth bounds how deeply action trees nest, so that hostile DNA cannot
// exhaust the stack.
const maxDepth = 64

// maxSleep is the longest sleep Parse accepts, in seconds.
const maxSleep = 86400

// Parse reads strategy DNA in Geneva's syntax: zero or more trees for
// outbound packets, optionally `\/` and zero or more trees for inbound
// packets, each tree `[PROTO:field:value[:gas]]-action-|`. Inbound trees
// may hold only tamper, drop and send, as in Geneva, where branching and
// sleeping actions apply to outbound packets only (actions/*.py: the
// direction each Action declares). Besides syntax, Parse refuses values
// that Geneva would accept but that can never match or that make it fail
// at run time (a port that is not a number, a flag letter scapy does not
// know, a wildcard on a number); the error says what fits.
func Parse(dna string) (*Strategy, error) {
	p := &parser{s: dna}
	s, err := p.strategy()
	if err != nil {
		return nil, err
	}
	return s, nil
}

// MustParse is Parse that panics on error, for tests and literals.
func MustParse(dna string) *Strategy {
	s, err := Parse(dna)
	if err != nil {
		panic(err)
	}
	return s
}

type parser struct {
	s     string
	pos   int
	depth int
}

func (p *parser) errAt(off int, expected string) *SyntaxError {
	return &SyntaxError{Offset: off, Column: utf8.RuneCountInString(p.s[:off]) + 1, Token: tokenAt(p.s, off), Expected: expected}
}

func (p *parser) errTok(off int, tok, expected string) *SyntaxError {
	if len(tok) > maxToken {
		tok = truncate(tok, maxToken)
	}
	return &SyntaxError{Offset: off, Column: utf8.RuneCountInString(p.s[:off]) + 1, Token: tok, Expected: expected}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// isDelim reports the characters that end a word or a value.
func isDelim(c byte) bool {
	switch c {
	case '[', ']', '{', '}', '(', ')', ',', '|', ':', '\\', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

// tokenAt returns the token that starts at off: a run of non-delimiters, or
// one character.
func tokenAt(s string, off int) string {
	if off >= len(s) {
		return ""
	}
	end := off
	for end < len(s) && !isDelim(s[end]) && end-off < maxToken {
		end++
	}
	if end == off {
		_, n := utf8.DecodeRuneInString(s[off:])
		end = off + n
		if strings.HasPrefix(s[off:], `\/`) {
			end = off + 2
		}
	}
	tok := s[off:end]
	if end < len(s) && end-off >= maxToken && !isDelim(s[end]) {
		tok = truncate(tok, maxToken)
	}
	return tok
}

func (p *parser) skipSpace() {
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) peek(c byte) bool { return p.pos < len(p.s) && p.s[p.pos] == c }

func (p *parser) expect(c byte, what string) error {
	if !p.peek(c) {
		return p.errAt(p.pos, what)
	}
	p.pos++
	return nil
}

// word reads a run of letters, digits and '-' (names of protocols, fields,
// actions and modes).
func (p *parser) word() string {
	start := p.pos
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' && p.pos > start && p.pos+1 < len(p.s) && p.s[p.pos+1] != '|' {
			p.pos++
			continue
		}
		break
	}
	return p.s[start:p.pos]
}

// value reads a literal up to one of the stop characters.
func (p *parser) value(stops string) (string, error) {
	start := p.pos
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if strings.IndexByte(stops, c) >= 0 {
			break
		}
		if isDelim(c) || c < 0x20 || c == 0x7f {
			return "", p.errAt(p.pos, "a value (letters, digits and punctuation other than []{}(),|:\\ and spaces) or "+describe(stops))
		}
		p.pos++
	}
	return p.s[start:p.pos], nil
}

func describe(stops string) string {
	var parts []string
	for i := 0; i < len(stops); i++ {
		parts = append(parts, strconv.QuoteRune(rune(stops[i])))
	}
	return strings.Join(parts, " or ")
}

func (p *parser) strategy() (*Strategy, error) {
	s := &Strategy{}
	inbound := false
	for {
		p.skipSpace()
		if p.pos >= len(p.s) {
			return s, nil
		}
		if strings.HasPrefix(p.s[p.pos:], `\/`) {
			if inbound {
				return nil, p.errAt(p.pos, `a tree or the end (only one \/ separates outbound from inbound trees)`)
			}
			inbound = true
			p.pos += 2
			continue
		}
		if !p.peek('[') {
			exp := `a tree "[" or \/`
			if inbound {
				exp = `a tree "["`
			}
			return nil, p.errAt(p.pos, exp)
		}
		t, err := p.tree(inbound)
		if err != nil {
			return nil, err
		}
		if inbound {
			s.Inbound = append(s.Inbound, t)
		} else {
			s.Outbound = append(s.Outbound, t)
		}
	}
}

func (p *parser) tree(inbound bool) (Tree, error) {
	var t Tree
	p.pos++ // [
	trig, err := p.trigger()
	if err != nil {
		return t, err
	}
	t.Trigger = trig
	if err := p.expect(']', `"]" after the trigger`); err != nil {
		return t, err
	}
	if err := p.expect('-', `"-" after the trigger`); err != nil {
		return t, err
	}
	if p.peek('|') {
		p.pos++
		return t, nil
	}
	root, err := p.action(inbound)
	if err != nil {
		return t, err
	}
	if root == nil {
		root = &Action{Kind: Send}
	}
	t.Root = root
	if p.peek('-') {
		p.pos++
	}
	if err := p.expect('|', `"-|" at the end of the tree`); err != nil {
		return t, err
	}
	return t, nil
}

func (p *parser) proto() (Proto, error) {
	start := p.pos
	name := p.word()
	pr := lookupProto(name)
	if pr == 0 {
		exp := "a protocol: IP, TCP or UDP"
		switch strings.ToUpper(name) {
		case "DNS", "DNSQR":
			exp = "a protocol: IP, TCP or UDP (this engine does not support Geneva's DNS and DNSQR layers)"
		case "IP", "TCP", "UDP":
			exp = "a protocol in upper case: IP, TCP or UDP"
		}
		return 0, p.errTok(start, name, exp)
	}
	return pr, nil
}

func (p *parser) field(pr Proto) (Field, error) {
	start := p.pos
	name := p.word()
	f := lookupField(pr, name)
	if f == 0 {
		var names []string
		for g := Field(1); g < numFields; g++ {
			if g.Proto() == pr {
				names = append(names, g.Name())
			}
		}
		return 0, p.errTok(start, name, "a "+pr.String()+" field: "+strings.Join(names, ", "))
	}
	return f, nil
}

func (p *parser) trigger() (Trigger, error) {
	var t Trigger
	pr, err := p.proto()
	if err != nil {
		return t, err
	}
	if err := p.expect(':', `":" after the protocol`); err != nil {
		return t, err
	}
	f, err := p.field(pr)
	if err != nil {
		return t, err
	}
	t.Field = f
	if err := p.expect(':', `":" after the field`); err != nil {
		return t, err
	}
	vstart := p.pos
	text, err := p.value(":]")
	if err != nil {
		return t, err
	}
	if strings.HasSuffix(text, "*") {
		t.Wildcard = true
		text = text[:len(text)-1]
	}
	if err := checkTrigger(f, text, t.Wildcard); err != "" {
		return t, p.errTok(vstart, p.s[vstart:p.pos], err)
	}
	if t.Wildcard {
		t.Value = Value{Text: text}
	} else {
		t.Value = TextValue(text)
	}
	if p.peek(':') {
		p.pos++
		gstart := p.pos
		g, _ := p.value("]")
		n, ok := parseInt(g)
		if !ok || n < math.MinInt32 || n > math.MaxInt32 {
			return t, p.errTok(gstart, g, "the gas, an integer (negative: fire only after that many matches)")
		}
		t.HasGas = true
		t.Gas = int(n)
	}
	return t, nil
}

// checkTrigger returns what a trigger value for f must look like, or "".
func checkTrigger(f Field, text string, wildcard bool) string {
	in := f.info()
	switch in.kind {
	case kindNum:
		if wildcard {
			return "a number (a wildcard * applies to text fields only: IP:src, IP:dst, IP:flags, TCP:flags, load)"
		}
		return checkRange(f, text, false)
	case kindTCPFlags:
		if wildcard {
			if len(text) != 1 || strings.IndexByte(tcpFlagLetters, text[0]) < 0 {
				return "one TCP flag letter before * (Geneva's wildcard on flags matches a single set flag)"
			}
			return ""
		}
		if n, ok := parseInt(text); ok {
			if n < 0 || n > 511 {
				return "TCP flags: letters of FSRPAUECN or a number from 0 to 511"
			}
			return ""
		}
		if _, ok := parseTCPFlags(text); !ok {
			return "TCP flags: letters of FSRPAUECN or a number from 0 to 511"
		}
	case kindIPFlags:
		if wildcard {
			return ""
		}
		if v, ok := parseIPFlags(text); !ok || ipFlagsString(v) != text {
			return "IPv4 flags as Geneva prints them (MF, DF, evil, in that order, joined by +) or nothing"
		}
	case kindAddr:
		if wildcard {
			return ""
		}
		if a, err := netip.ParseAddr(text); err != nil || !a.Is4() || a.String() != text {
			return "an IPv4 address in dotted decimal (or text followed by * to match part of one)"
		}
	case kindLoad:
		if _, ok := parseInt(text); ok && !wildcard {
			return "a load that is not all digits (Geneva compares a number with the payload's text and never matches; add * to match it as text)"
		}
	case kindOption:
		if wildcard {
			return "a number or nothing (a wildcard * applies to text fields only)"
		}
		if _, ok := parseInt(text); !ok && text != "" {
			return "an option value: a number, or nothing to match a packet without the option"
		}
	}
	return ""
}

// checkRange checks an integer for a numeric field; masked bit fields take
// any integer when tampering (scapy keeps the low bits).
func checkRange(f Field, text string, tamper bool) string {
	in := f.info()
	n, ok := parseInt(text)
	max := int64(1)<<in.bits - 1
	if ok && (tamper && in.masked || n >= 0 && n <= max) {
		return ""
	}
	return "a number from 0 to " + strconv.FormatInt(max, 10) + " for " + f.String()
}

func (p *parser) action(inbound bool) (*Action, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, p.errAt(p.pos, "at most "+strconv.Itoa(maxDepth)+" nested actions")
	}
	start := p.pos
	name := p.word()
	a := &Action{}
	switch name {
	case "send":
		a.Kind = Send
	case "drop":
		a.Kind = Drop
	case "duplicate":
		a.Kind = Duplicate
	case "tamper":
		a.Kind = Tamper
	case "fragment":
		a.Kind = Fragment
	case "sleep":
		a.Kind = Sleep
	case "trace":
		return nil, p.errTok(start, name, "an action: duplicate, tamper, fragment, drop, sleep or send (trace, Geneva's experimental TTL probe, is not supported)")
	default:
		return nil, p.errTok(start, name, "an action: duplicate, tamper, fragment, drop, sleep or send")
	}
	if inbound && (a.Kind == Duplicate || a.Kind == Fragment || a.Kind == Sleep) {
		return nil, p.errTok(start, name, "an inbound action: tamper, drop or send (Geneva runs "+name+" on outbound packets only)")
	}
	var err error
	switch a.Kind {
	case Tamper:
		err = p.tamperParams(a)
	case Fragment:
		err = p.fragmentParams(a)
	case Sleep:
		a.Seconds = 1 // actions/sleep.py: the default time
		if p.peek('{') {
			err = p.sleepParams(a)
		}
	default:
		if p.peek('{') {
			return nil, p.errAt(p.pos, "no parameters after "+name)
		}
	}
	if err != nil {
		return nil, err
	}
	if !p.peek('(') {
		return a, nil
	}
	open := p.pos
	p.pos++
	if !p.peek(',') {
		if a.Left, err = p.action(inbound); err != nil {
			return nil, err
		}
	}
	if err := p.expect(',', `"," between the left and right child`); err != nil {
		return nil, err
	}
	if !p.peek(')') {
		if a.Right, err = p.action(inbound); err != nil {
			return nil, err
		}
	}
	if err := p.expect(')', `")" after the children`); err != nil {
		return nil, err
	}
	if (a.Kind == Drop || a.Kind == Send) && (a.Left != nil || a.Right != nil) {
		return nil, p.errTok(open, "(", "no children after "+name+" (it ends the tree)")
	}
	a.Left, a.Right = leaf(a.Left), leaf(a.Right)
	switch a.Kind {
	case Tamper, Sleep:
		if a.Right != nil {
			return nil, p.errTok(open, "(", name+" with one child, written "+name+"{…}(child,)")
		}
	}
	return a, nil
}

// leaf turns an explicit send child into the empty child it means.
func leaf(a *Action) *Action {
	if a != nil && a.Kind == Send {
		return nil
	}
	return a
}

func (p *parser) tamperParams(a *Action) error {
	if err := p.expect('{', `"{" and the tamper's PROTO:field:mode[:value]`); err != nil {
		return err
	}
	pr, err := p.proto()
	if err != nil {
		return err
	}
	if err := p.expect(':', `":" after the protocol`); err != nil {
		return err
	}
	f, err := p.field(pr)
	if err != nil {
		return err
	}
	a.Field = f
	if err := p.expect(':', `":" and a mode: replace, corrupt or add`); err != nil {
		return err
	}
	mstart := p.pos
	mode := p.word()
	switch mode {
	case "replace":
		a.Mode = Replace
	case "corrupt":
		a.Mode = Corrupt
	case "add":
		a.Mode = Add
	case "compress":
		return p.errTok(mstart, mode, "a mode: replace, corrupt or add (compress applies to Geneva's DNS layer, which this engine does not support)")
	default:
		return p.errTok(mstart, mode, "a mode: replace, corrupt or add")
	}
	if !p.peek(':') {
		if a.Mode != Corrupt {
			return p.errAt(p.pos, `":" and the value to `+mode)
		}
		return p.expect('}', `"}" after the tamper`)
	}
	p.pos++
	vstart := p.pos
	text, err := p.value("}")
	if err != nil {
		return err
	}
	if a.Mode == Corrupt {
		// actions/tamper.py parses and ignores a value after corrupt.
		return p.expect('}', `"}" after the tamper`)
	}
	if msg := checkTamper(f, a.Mode, text); msg != "" {
		return p.errTok(vstart, text, msg)
	}
	a.Value = TextValue(text)
	if f.info().kind == kindLoad {
		a.Value = Value{Text: text} // actions/tamper.py keeps a load as text
	}
	return p.expect('}', `"}" after the tamper`)
}

// checkTamper returns what a tamper value must look like, or "".
func checkTamper(f Field, m Mode, text string) string {
	in := f.info()
	if m == Add {
		if in.kind == kindOption {
			switch in.opt {
			case 0, 1, 4, 5, 15, 19:
				return "a field that holds a number to add to (" + f.String() + " holds none)"
			}
		}
		switch in.kind {
		case kindNum, kindTCPFlags, kindOption:
			if _, ok := parseInt(text); !ok {
				return "an integer to add to " + f.String()
			}
			return ""
		}
		return "a numeric field to add to (Geneva's add leaves " + f.String() + " unchanged)"
	}
	switch in.kind {
	case kindNum:
		return checkRange(f, text, true)
	case kindTCPFlags:
		if _, ok := parseInt(text); ok {
			return ""
		}
		if _, ok := parseTCPFlags(text); !ok {
			return "TCP flags: letters of FSRPAUECN, or a number"
		}
	case kindIPFlags:
		if _, ok := parseInt(text); ok {
			return ""
		}
		if _, ok := parseIPFlags(text); !ok {
			return "IPv4 flags: MF, DF, evil joined by +, or a number, or nothing"
		}
	case kindAddr:
		if a, err := netip.ParseAddr(text); err != nil || !a.Is4() || a.Zone() != "" {
			return "an IPv4 address in dotted decimal"
		}
	case kindOption:
		if _, ok := parseInt(text); ok {
			return ""
		}
		if _, err := hex.DecodeString(text); err != nil {
			return "an option value: a number, hex bytes, or nothing"
		}
	}
	return ""
}

func (p *parser) fragmentParams(a *Action) error {
	if err := p.expect('{', `"{" and the fragment's tcp|ip:size:True|False[:overlap]`); err != nil {
		return err
	}
	start := p.pos
	switch w := p.word(); w {
	case "tcp":
		a.Segment = true
	case "ip":
	default:
		return p.errTok(start, w, "tcp (segments) or ip (fragments)")
	}
	if err := p.expect(':', `":" and the size`); err != nil {
		return err
	}
	start = p.pos
	v, err := p.value(":}")
	if err != nil {
		return err
	}
	n, ok := parseInt(v)
	if !ok || n < -1 || n > 65535 {
		return p.errTok(start, v, "the size of the first part: -1 (half) or a number from 0 to 65535")
	}
	a.Size = int(n)
	if err := p.expect(':', `":" and True or False (in order)`); err != nil {
		return err
	}
	start = p.pos
	switch w := p.word(); w {
	case "True":
		a.InOrder = true
	case "False":
	default:
		return p.errTok(start, w, "True or False (whether the first part goes first)")
	}
	if p.peek(':') {
		p.pos++
		start = p.pos
		v, err := p.value("}")
		if err != nil {
			return err
		}
		n, ok := parseInt(v)
		if !ok || n < 0 || n > 65535 {
			return p.errTok(start, v, "the overlap, a number of bytes from 0 to 65535")
		}
		a.Overlap = int(n)
	}
	return p.expect('}', `"}" after the fragment`)
}

func (p *parser) sleepParams(a *Action) error {
	p.pos++ // {
	start := p.pos
	v, err := p.value("}")
	if err != nil {
		return err
	}
	if v != "" { // actions/sleep.py: an empty time keeps the default
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || f < 0 || f > maxSleep {
			return p.errTok(start, v, "the seconds to sleep, a number from 0 to "+strconv.Itoa(maxSleep))
		}
		a.Seconds = f
	}
	return p.expect('}', `"}" after the sleep`)
}
