package policy

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"
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

// TestGoPolicy validates a policy built in Go: no positions, the paths
// still say where each problem is; list files come from an fs.FS.
func TestGoPolicy(t *testing.T) {
	fsys := fstest.MapFS{"profiles/lists/n.txt": {Data: []byte("a.com\nb..com\n")}}
	p := &Policy{
		Name: "go",
		Lists: map[string]*List{
			"n": {Name: "n", Kind: Domains, From: []ListSource{{File: "lists/n.txt"}}},
		},
		Rules: []Rule{{
			ID: "r", Source: "test", Year: 2024,
			Scope:   Scope{Probability: P(0.5)},
			Match:   []Matcher{&TLSSNIMatch{List: "n"}, DefaultFullyEncrypted()},
			Actions: []Action{&RSTAction{To: ToBoth, SeqOffsets: []uint32{0, 1460, 4380}}, &ResidualAction{Tuple: 3, Duration: 90 * time.Second}},
		}, {
			ID: "r", Source: "test", Year: 2024,
			Match:   []Matcher{&TLSSNIMatch{List: "missing"}, nil},
			Actions: []Action{&ThrottleAction{}},
		}},
	}
	err := p.ReadFiles(fsys, "profiles")
	if err != nil {
		t.Fatal(err)
	}
	want := `profiles/lists/n.txt:2: lists.n.items: bad domain "b..com": empty or over-long label
policy: rules[1].id: id "r" is already used by rules[0]
policy: rules[1].match[0].tls-sni.list: no list named "missing" (lists: n)
policy: rules[1].match[1]: matcher is nil
policy: rules[1].actions[0].throttle.rate: throttle needs a positive rate`
	if err := p.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate:\n%v\nwant:\n%s", err, want)
	}
	p.Lists["n"].Items = p.Lists["n"].Items[:1]
	p.Rules = p.Rules[:1]
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := p.Rules[0].Actions[0].(*RSTAction).N(); got != 3 {
		t.Errorf("RSTAction.N() = %d, want 3", got)
	}
	if Prob(p.Rules[0].Scope.Probability) != 0.5 || Prob(nil) != 1 {
		t.Error("Prob")
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

func TestRegistry(t *testing.T) {
	want := []string{"any", "dns", "ech", "esni", "fully-encrypted", "http", "ip", "port", "protocol", "protocol-allowlist", "quic-sni", "tls-sni"}
	if got := kindNames(MatcherKinds()); !slices.Equal(got, want) {
		t.Errorf("matcher kinds %q, want %q", got, want)
	}
	want = []string{"blockpage", "delay", "dns-inject", "drop", "intercept", "null-route", "residual", "rst", "terminate", "throttle"}
	if got := kindNames(ActionKinds()); !slices.Equal(got, want) {
		t.Errorf("action kinds %q, want %q", got, want)
	}
	for _, k := range append(MatcherKinds(), ActionKinds()...) {
		if k.Doc == "" {
			t.Errorf("kind %q has no doc", k.Name)
		}
	}
	m, _ := NewMatcher("fully-encrypted")
	if fe := m.(*FullyEncryptedMatch); *fe != *DefaultFullyEncrypted() {
		t.Errorf("fully-encrypted defaults %+v", fe)
	}
	defer func() {
		if recover() == nil {
			t.Error("registering a kind twice did not panic")
		}
	}()
	RegisterMatcher("any", "again", func() Matcher { return &AnyMatch{} })
}
