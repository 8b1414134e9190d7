package policy

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseListFile(t *testing.T) {
	tests := []struct {
		name       string
		format     ListFormat
		categories []string
		in         string
		want       []string
		err        string
	}{
		{name: "lines", format: Lines, in: "# c\n\na.com\n  b.com  # trailing\n\tc.com\n", want: []string{"a.com", "b.com", "c.com"}},
		{name: "hosts", format: Hosts, in: "127.0.0.1 localhost\n0.0.0.0 a.com b.com # x\n:: c.com\n", want: []string{"a.com", "b.com", "c.com"}},
		{name: "hosts-bad", format: Hosts, in: "0.0.0.0 a.com\nnot-an-ip b.com\n", want: []string{"a.com"},
			err: `l.txt:2: hosts line "not-an-ip b.com": want an address and at least one name`},
		{name: "citizenlab", format: CitizenLab, categories: []string{"NEWS", "ANON"},
			in: "url,category_code,category_description,date_added,source,notes\n" +
				"https://www.a.com/x,NEWS,News,2017-01-01,,\n" +
				"http://b.org,POLR,Political,2017-01-01,,\"multi\nline note\"\n" +
				"https://C.NET:8443/,ANON,Anon,2017-01-01,,\n" +
				"https://www.a.com/y,NEWS,News,2018-01-01,,\n",
			want: []string{"www.a.com", "c.net"}},
		{name: "citizenlab-all", format: CitizenLab,
			in:   "\ufeffurl,category_code,category_description,date_added,source,notes\nhttps://a.com/,NEWS,,,,\nhttps://b.org,POLR,,,,\n",
			want: []string{"a.com", "b.org"}},
		{name: "citizenlab-bad-url", format: CitizenLab,
			in:   "url,category_code,category_description,date_added,source,notes\nhttps://a.com/,NEWS,,,,\nnot a url,NEWS,,,,\n",
			want: []string{"a.com"}, err: `l.txt:3: citizenlab list: url "not a url" has no host`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseListFile(strings.NewReader(tt.in), "l.txt", tt.format, tt.categories...)
			if !slices.Equal(got, tt.want) {
				t.Errorf("items = %q, want %q", got, tt.want)
			}
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if gotErr != tt.err {
				t.Errorf("err = %q, want %q", gotErr, tt.err)
			}
		})
	}
}

func TestValues(t *testing.T) {
	var r Rate
	for in, want := range map[string]Rate{"150kbit": 150_000, "1.5Mbit": 1_500_000, "2Gbit": 2e9, "130 kbps": 130_000, "9600bit": 9600} {
		if err := r.UnmarshalText([]byte(in)); err != nil || r != want {
			t.Errorf("Rate(%q) = %v, %v; want %v", in, r, err, want)
		}
	}
	var id IPID
	for in, want := range map[string]IPID{"zero": {IPIDFixed, 0, 0}, "random": {Mode: IPIDRandom}, "30000": {IPIDFixed, 30000, 30000}, "0x9916-0x9933": {IPIDRange, 0x9916, 0x9933}} {
		if err := id.UnmarshalText([]byte(in)); err != nil || id != want {
			t.Errorf("IPID(%q) = %v, %v; want %v", in, id, err, want)
		}
	}
	var f TCPFlags
	if err := f.UnmarshalText([]byte("FIN-psh-ack")); err != nil || f != FlagFIN|FlagPSH|FlagACK || f.String() != "fin-psh-ack" {
		t.Errorf("TCPFlags = %v, %v", f, err)
	}
	var d DurationRange
	if err := d.UnmarshalText([]byte("12ms-445ms")); err != nil || d != (DurationRange{12 * time.Millisecond, 445 * time.Millisecond}) {
		t.Errorf("DurationRange = %v, %v", d, err)
	}
	var c ClockRange
	if err := c.UnmarshalText([]byte("22:00-06:00")); err != nil {
		t.Fatal(err)
	}
	for h, want := range map[int]bool{23: true, 3: true, 6: false, 12: false} {
		if got := c.Contains(time.Date(2024, 1, 1, h, 0, 0, 0, time.UTC)); got != want {
			t.Errorf("22:00-06:00 contains %02d:00 = %v", h, got)
		}
	}
	var b ByteSize
	if err := b.UnmarshalText([]byte("16KiB")); err != nil || b != 16384 {
		t.Errorf("ByteSize = %v, %v", b, err)
	}
	var h HexBytes
	if err := h.UnmarshalText([]byte("01 02 0a")); err != nil || string(h) != "\x01\x02\x0a" {
		t.Errorf("HexBytes = %v, %v", h, err)
	}
}

// TestRealNameFormats reads the formats researchers publish blocked names
// in: Roskomnadzor's registry dump (zapret-info's dump.csv, in its
// Windows-1251 encoding and in UTF-8), a plain domain list; domains read
// into a regexes list become anchored patterns.
func TestRealNameFormats(t *testing.T) {
	read := func(file string, k ListKind, f ListFormat) ([]string, string) {
		t.Helper()
		fh, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		items, err := ParseListFileFor(fh, "l.txt", k, f)
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		return items, msg
	}
	names, err := read("testdata/realnames/dump.csv", Domains, RKNDump)
	if want := []string{"telegram.org", "*.linkedin.com", "meduza.io", "xn--d1abbgf6aiiy.xn--p1ai"}; !slices.Equal(names, want) {
		t.Errorf("dump.csv names %q, want %q", names, want)
	}
	if err != "l.txt:7: rkn-dump row has 1 fields, want at least 3 (addresses;domain;url;...)" {
		t.Errorf("dump.csv error %q", err)
	}
	utf, _ := read("testdata/realnames/dump-utf8.csv", Domains, RKNDump)
	if !slices.Equal(utf, names[:3]) {
		t.Errorf("UTF-8 dump names %q", utf)
	}
	addrs, _ := read("testdata/realnames/dump.csv", Prefixes, RKNDump)
	if want := []string{"203.0.113.99/32", "198.51.100.0/24", "192.0.2.7/32", "192.0.2.8/32"}; !slices.Equal(addrs, want) {
		t.Errorf("dump.csv addresses %q, want %q", addrs, want)
	}
	res, _ := read("testdata/realnames/dump.csv", Regexes, RKNDump)
	if want := []string{`(^|\.)telegram\.org$`, `\.linkedin\.com$`, `(^|\.)meduza\.io$`, `(^|\.)xn--d1abbgf6aiiy\.xn--p1ai$`}; !slices.Equal(res, want) {
		t.Errorf("dump.csv as regexes %q, want %q", res, want)
	}
	plain, perr := ParseListFileFor(strings.NewReader("# GFWatch\ngoogle.com\nnot a name\nwww.nytimes.com # 2012\n"), "l.txt", Domains, DomainLines)
	if !slices.Equal(plain, []string{"google.com", "www.nytimes.com"}) || perr == nil || !strings.Contains(perr.Error(), `l.txt:3: bad domain "not a name"`) {
		t.Errorf("domains list %q, %v", plain, perr)
	}
}
