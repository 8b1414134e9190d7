package policy

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Value types that the YAML adapter reads from scalars through their
// UnmarshalText methods. Each is a small comparable value whose zero value
// means "unset" as documented on the type.

// Date is a calendar day (UTC), written 2006-01-02. The zero value is unset.
type Date struct{ t time.Time }

// MakeDate returns the date y-m-d.
func MakeDate(y int, m time.Month, d int) Date { return Date{time.Date(y, m, d, 0, 0, 0, 0, time.UTC)} }

// Time returns the start of the day in UTC.
func (d Date) Time() time.Time { return d.t }

// IsZero reports whether the date is unset.
func (d Date) IsZero() bool { return d.t.IsZero() }

func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return d.t.Format(time.DateOnly)
}

// UnmarshalText parses 2006-01-02.
func (d *Date) UnmarshalText(b []byte) error {
	t, err := time.Parse(time.DateOnly, string(b))
	if err != nil {
		return fmt.Errorf("invalid date %q (want YYYY-MM-DD)", b)
	}
	d.t = t
	return nil
}

// ClockRange is a daily time window, written "HH:MM-HH:MM" (UTC). A window
// whose end is before its start wraps past midnight ("22:00-06:00"). The zero
// value is unset (all day).
type ClockRange struct {
	// Start and End are minutes after midnight; Set marks a parsed value
	// ("00:00-00:00" is the whole day, distinct from unset).
	Start, End int
	Set        bool
}

// Contains reports whether the time of day of t (UTC) lies in the window.
func (c ClockRange) Contains(t time.Time) bool {
	if !c.Set {
		return true
	}
	t = t.UTC()
	m := t.Hour()*60 + t.Minute()
	if c.Start <= c.End {
		return c.Start == c.End || (m >= c.Start && m < c.End)
	}
	return m >= c.Start || m < c.End
}

func (c ClockRange) String() string {
	if !c.Set {
		return ""
	}
	return fmt.Sprintf("%02d:%02d-%02d:%02d", c.Start/60, c.Start%60, c.End/60, c.End%60)
}

// UnmarshalText parses "HH:MM-HH:MM".
func (c *ClockRange) UnmarshalText(b []byte) error {
	s := string(b)
	from, to, ok := strings.Cut(s, "-")
	if !ok {
		return fmt.Errorf("invalid daily window %q (want HH:MM-HH:MM)", s)
	}
	start, err1 := parseClock(from)
	end, err2 := parseClock(to)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("invalid daily window %q (want HH:MM-HH:MM)", s)
	}
	*c = ClockRange{Start: start, End: end, Set: true}
	return nil
}

func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || len(h) != 2 || len(m) != 2 {
		return 0, errors.New("bad clock")
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || hh > 23 || mm < 0 || mm > 59 {
		return 0, errors.New("bad clock")
	}
	return hh*60 + mm, nil
}

// PortRange is an inclusive range of ports, written "443" or "8000-8100".
// The zero value is port 0 only, which Validate rejects where a port is meant.
type PortRange struct{ Lo, Hi uint16 }

// Port returns the range holding only p.
func Port(p uint16) PortRange { return PortRange{p, p} }

// Contains reports whether p is in the range.
func (r PortRange) Contains(p uint16) bool { return p >= r.Lo && p <= r.Hi }

func (r PortRange) String() string {
	if r.Lo == r.Hi {
		return strconv.Itoa(int(r.Lo))
	}
	return fmt.Sprintf("%d-%d", r.Lo, r.Hi)
}

// ParsePortRange parses "443" or "8000-8100".
func ParsePortRange(s string) (PortRange, error) {
	lo, hi, isRange := strings.Cut(strings.TrimSpace(s), "-")
	if !isRange {
		hi = lo
	}
	l, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
	h, err2 := strconv.ParseUint(strings.TrimSpace(hi), 10, 16)
	if err1 != nil || err2 != nil || l > h {
		return PortRange{}, fmt.Errorf("invalid port or port range %q", s)
	}
	return PortRange{uint16(l), uint16(h)}, nil
}

// UnmarshalText parses "443" or "8000-8100".
func (r *PortRange) UnmarshalText(b []byte) error {
	v, err := ParsePortRange(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Rate is a bit rate in bits per second, written with a unit: "150kbit",
// "1.5Mbit", "2Gbit", "9600bit" (SI multiples of 1000; "kbps" and "bps" are
// accepted as synonyms). The zero value is unset.
type Rate int64

func (r Rate) String() string {
	switch {
	case r != 0 && r%1_000_000_000 == 0:
		return fmt.Sprintf("%dGbit", r/1_000_000_000)
	case r != 0 && r%1_000_000 == 0:
		return fmt.Sprintf("%dMbit", r/1_000_000)
	case r != 0 && r%1000 == 0:
		return fmt.Sprintf("%dkbit", r/1000)
	}
	return fmt.Sprintf("%dbit", int64(r))
}

// ParseRate parses a rate such as "150kbit".
func ParseRate(s string) (Rate, error) {
	units := []struct {
		suffix string
		mult   float64
	}{
		{"gbit", 1e9}, {"gbps", 1e9}, {"mbit", 1e6}, {"mbps", 1e6},
		{"kbit", 1e3}, {"kbps", 1e3}, {"bit", 1}, {"bps", 1},
	}
	l := strings.ToLower(strings.TrimSpace(s))
	for _, u := range units {
		if num, ok := strings.CutSuffix(l, u.suffix); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
			if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) || f*u.mult > math.MaxInt64/2 {
				break
			}
			return Rate(math.Round(f * u.mult)), nil
		}
	}
	return 0, fmt.Errorf("invalid rate %q (want a number and a unit: bit, kbit, Mbit, Gbit)", s)
}

// UnmarshalText parses a rate such as "150kbit".
func (r *Rate) UnmarshalText(b []byte) error {
	v, err := ParseRate(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// ByteSize is a number of bytes, written "16384", "16KiB", "1MiB", "10kB"
// or "2MB". The zero value is unset.
type ByteSize int64

// UnmarshalText parses a size such as "16KiB".
func (s *ByteSize) UnmarshalText(b []byte) error {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"kB", 1000}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}, {"", 1}}
	str := strings.TrimSpace(string(b))
	for _, u := range units {
		if num, ok := strings.CutSuffix(str, u.suffix); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
			if err != nil || n < 0 || n > math.MaxInt64/u.mult {
				break
			}
			*s = ByteSize(n * u.mult)
			return nil
		}
	}
	return fmt.Errorf("invalid size %q (want bytes, or a number with KiB, MiB, kB, MB)", b)
}

// DurationRange is a delay drawn uniformly from [Min, Max], written as one
// duration ("18ms", Min = Max) or a range ("12ms-445ms"). The zero value is
// no delay.
type DurationRange struct{ Min, Max time.Duration }

// Fixed returns the range holding only d.
func Fixed(d time.Duration) DurationRange { return DurationRange{d, d} }

// IsZero reports whether the range is "no delay".
func (r DurationRange) IsZero() bool { return r == DurationRange{} }

func (r DurationRange) String() string {
	if r.Min == r.Max {
		return r.Min.String()
	}
	return r.Min.String() + "-" + r.Max.String()
}

// UnmarshalText parses "18ms" or "12ms-445ms".
func (r *DurationRange) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	lo, hi, isRange := strings.Cut(s, "-")
	if !isRange {
		hi = lo
	}
	min, err1 := time.ParseDuration(strings.TrimSpace(lo))
	max, err2 := time.ParseDuration(strings.TrimSpace(hi))
	if err1 != nil || err2 != nil || min < 0 || max < min {
		return fmt.Errorf("invalid delay %q (want a duration like 18ms or a range like 12ms-445ms)", s)
	}
	*r = DurationRange{min, max}
	return nil
}

// IPIDMode says how injected packets set the IPv4 identification field.
type IPIDMode uint8

// IP-ID modes. The zero value, IPIDDefault, leaves it to the engine's stack.
const (
	IPIDDefault IPIDMode = iota
	IPIDFixed            // always IPID.Lo ("30000", "1")
	IPIDRandom           // uniformly random
	IPIDRange            // uniformly from [Lo, Hi] ("0x9916-0x9933")
)

// IPID is the IP identification fingerprint of injected packets, written
// "zero", "random", a number ("30000", "0x1"), or a range
// ("0x9916-0x9933"). The zero value is the engine's default.
type IPID struct {
	Mode   IPIDMode
	Lo, Hi uint16
}

func (id IPID) String() string {
	switch id.Mode {
	case IPIDFixed:
		return strconv.Itoa(int(id.Lo))
	case IPIDRandom:
		return "random"
	case IPIDRange:
		return fmt.Sprintf("%#x-%#x", id.Lo, id.Hi)
	}
	return ""
}

// UnmarshalText parses an IP-ID fingerprint.
func (id *IPID) UnmarshalText(b []byte) error {
	s := strings.ToLower(strings.TrimSpace(string(b)))
	switch s {
	case "zero":
		*id = IPID{Mode: IPIDFixed}
		return nil
	case "random":
		*id = IPID{Mode: IPIDRandom}
		return nil
	}
	lo, hi, isRange := strings.Cut(s, "-")
	l, err1 := strconv.ParseUint(lo, 0, 16)
	h := l
	var err2 error
	if isRange {
		h, err2 = strconv.ParseUint(hi, 0, 16)
	}
	if err1 != nil || err2 != nil || h < l {
		return fmt.Errorf("invalid ipid %q (want zero, random, a number or a range like 0x9916-0x9933)", b)
	}
	if isRange {
		*id = IPID{IPIDRange, uint16(l), uint16(h)}
	} else {
		*id = IPID{IPIDFixed, uint16(l), uint16(l)}
	}
	return nil
}

// TCPFlags is a set of TCP flags, written with their names joined by "-"
// ("rst", "rst-ack", "fin-psh-ack"). The zero value is no flags.
type TCPFlags uint8

// TCP flag bits.
const (
	FlagFIN TCPFlags = 1 << iota
	FlagSYN
	FlagRST
	FlagPSH
	FlagACK
	FlagURG
)

var flagNames = []struct {
	name string
	f    TCPFlags
}{{"fin", FlagFIN}, {"syn", FlagSYN}, {"rst", FlagRST}, {"psh", FlagPSH}, {"ack", FlagACK}, {"urg", FlagURG}}

func (f TCPFlags) String() string {
	var parts []string
	for _, n := range flagNames {
		if f&n.f != 0 {
			parts = append(parts, n.name)
		}
	}
	return strings.Join(parts, "-")
}

// UnmarshalText parses flags such as "fin-psh-ack".
func (f *TCPFlags) UnmarshalText(b []byte) error {
	var v TCPFlags
outer:
	for _, p := range strings.Split(strings.ToLower(strings.TrimSpace(string(b))), "-") {
		for _, n := range flagNames {
			if p == n.name {
				v |= n.f
				continue outer
			}
		}
		return fmt.Errorf("invalid tcp flags %q (want names joined by '-', like rst-ack or fin-psh-ack)", b)
	}
	*f = v
	return nil
}

// HexBytes are bytes written in hex, optionally separated by spaces or
// colons ("01 02 03 04 05 06 07 08 09 00"). The zero value is empty.
type HexBytes []byte

func (h HexBytes) String() string { return hex.EncodeToString(h) }

// UnmarshalText parses hex bytes.
func (h *HexBytes) UnmarshalText(b []byte) error {
	s := strings.NewReplacer(" ", "", ":", "", "\t", "").Replace(string(b))
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	v, err := hex.DecodeString(s)
	if err != nil {
		return fmt.Errorf("invalid hex bytes %q", b)
	}
	*h = v
	return nil
}
