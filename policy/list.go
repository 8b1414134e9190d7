package policy

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/splinter-lab/splinter/internal/userfile"
)

// ListKind says what a list holds and so how its items are matched.
type ListKind string

// List kinds.
const (
	// Domains holds DNS names ("example.com"); "*.example.com" matches
	// only names under example.com. Matched exactly or by suffix,
	// case-insensitively (DomainSet).
	Domains ListKind = "domains"
	// Regexes holds Go (RE2) regular expressions, matched
	// case-insensitively against a name or text (RegexSet).
	Regexes ListKind = "regexes"
	// Keywords holds byte strings searched for anywhere in a text,
	// ASCII-case-insensitively (KeywordSet).
	Keywords ListKind = "keywords"
	// Prefixes holds IPv4 and IPv6 prefixes or addresses (PrefixSet).
	Prefixes ListKind = "prefixes"
	// Ports holds ports and port ranges (PortSet).
	Ports ListKind = "ports"
)

// ListFormat is the format of a list file.
type ListFormat string

// List file formats. The zero value means Lines.
const (
	// Lines is one item per line; blank lines and lines starting with '#'
	// are skipped, as is anything after " #".
	Lines ListFormat = "lines"
	// Hosts is the hosts-file format ("0.0.0.0 name [name...]"); the names
	// are the items. Domains lists only.
	Hosts ListFormat = "hosts"
	// CitizenLab is a Citizen Lab test list CSV with the header
	// url,category_code,category_description,date_added,source,notes; the
	// host of each URL is an item. Domains lists only.
	CitizenLab ListFormat = "citizenlab"
	// DomainLines is a plain list of domain names, one a line (as Lines,
	// '#' comments), each checked as a name: what GFWatch and OONI publish.
	DomainLines ListFormat = "domains"
	// RKNDump is Roskomnadzor's registry as mirrored by zapret-info
	// (dump.csv): rows "IPs;domain;URL;authority;decision;date" separated
	// by ';', the addresses by " | ", after an "Updated: ..." line;
	// UTF-8 or the mirror's Windows-1251. A domains list takes each row's
	// domain (or its URL's host), a prefixes list its addresses and
	// subnets; names in Cyrillic become their ASCII (punycode) form.
	RKNDump ListFormat = "rkn-dump"
)

// yieldsDomains reports whether a format's items are domain names.
func (f ListFormat) yieldsDomains() bool {
	return f == Hosts || f == CitizenLab || f == DomainLines || f == RKNDump
}

// AnchoredRegex is the regex a domain name read into a regexes list
// becomes: the name and every name under it, as the GFW's DNS patterns are
// written ((^|\.)example\.com$, Wallbleed, NDSS 2025).
// A "*.name" (names under it only) becomes \.name$.
func AnchoredRegex(domain string) string {
	d := strings.TrimSuffix(strings.ToLower(domain), ".")
	if sub, ok := strings.CutPrefix(d, "*."); ok {
		return `\.` + regexp.QuoteMeta(sub) + `$`
	}
	return `(^|\.)` + regexp.QuoteMeta(d) + `$`
}

// List is a named list rules refer to. The zero value is not usable: a list
// needs a name, a kind and items or sources.
type List struct {
	// Name is the list's name, its key in Policy.Lists.
	Name string `yaml:"-"`
	// Kind says what the items are.
	Kind ListKind `yaml:"kind"`
	// Items are the list's items. Load and ReadSources append the items
	// read from From.
	Items []string `yaml:"items"`
	// From are files to read items from, relative to the policy file.
	From []ListSource `yaml:"from"`

	// Pos is where the list was declared.
	Pos Pos `yaml:"-"`

	// itemPos, when not nil, holds the position of each of Items.
	itemPos []Pos
	// read is set once From has been read into Items.
	read bool
	// checked is set by LoadHistory once the list's items were found well
	// formed, so that the versions sharing the list check them once, and
	// compile them once (compiled, for compiledN items).
	checked   bool
	compileMu sync.Mutex
	compiled  *Compiled
	compiledN int
}

// ListSource is a file a list's items are read from. Its zero value is not
// usable: File is required.
type ListSource struct {
	// File is a slash-separated path relative to the policy file's directory.
	File string `yaml:"file"`
	// Format is the file's format; "" means Lines.
	Format ListFormat `yaml:"format"`
	// Categories, for CitizenLab files, keeps only URLs whose category code
	// is listed ("NEWS", "POLR"); empty keeps all.
	Categories []string `yaml:"categories"`
}

// ReadSources reads the list's From files from fsys, resolving them against
// dir (the directory of the policy file, "." for the root of fsys), and
// appends their items to Items. It does nothing the second time. Problems
// (a missing file, a malformed line) are returned as an *Error naming
// file:line.
func (l *List) ReadSources(fsys fs.FS, dir string) error {
	e := &Error{}
	l.readSources(fsys, dir, "", e, "lists."+l.Name, func(string) Pos { return l.Pos })
	return e.errOrNil()
}

// readSources reads l.From; policyFile, if set, names the policy file so that
// list files are named relative to it in positions.
func (l *List) readSources(fsys fs.FS, dir, policyFile string, e *Error, base string, posOf func(string) Pos) {
	if l.read {
		return
	}
	l.read = true
	if len(l.From) > 0 && l.itemPos == nil {
		// Positions of inline items, so problems with them are still
		// located once file items follow.
		l.itemPos = make([]Pos, len(l.Items))
		for i := range l.Items {
			l.itemPos[i] = posOf(base + ".items[" + strconv.Itoa(i) + "]")
		}
	}
	for i, src := range l.From {
		field := base + ".from[" + strconv.Itoa(i) + "]"
		if src.File == "" || userfile.CheckRef(src.File) != nil {
			continue // reported by Validate
		}
		name := path.Join(dir, src.File)
		f, err := fsys.Open(name)
		if err != nil {
			e.add(posOf(field+".file"), field+".file", "cannot read list file %q: %s", src.File, fileReason(err))
			continue
		}
		display := name
		if policyFile != "" {
			display = path.Join(path.Dir(policyFile), src.File)
		}
		items, err := parseListFile(f, display, l.Kind, src)
		f.Close()
		for _, it := range items {
			l.Items = append(l.Items, it.value)
			l.itemPos = append(l.itemPos, it.pos)
		}
		if err != nil {
			var le *Error
			if errors.As(err, &le) {
				e.Problems = append(e.Problems, le.Problems...)
			} else {
				e.add(posOf(field+".file"), field+".file", "reading %q: %v", src.File, err)
			}
		}
	}
}

// fileReason says why a file a policy names could not be read, without
// repeating its name (the caller quotes it as written).
func fileReason(err error) string {
	var ue *userfile.Error
	if errors.As(err, &ue) {
		return ue.Detail
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

type listItem struct {
	value string
	pos   Pos
}

// ParseListFile reads the items of a list file in format f (one of Lines,
// Hosts, CitizenLab, DomainLines, RKNDump; categories filter CitizenLab
// rows) for a domains list. name is used in positions. Problems are
// returned as an *Error naming name:line, along with the items that could
// be read.
func ParseListFile(r io.Reader, name string, f ListFormat, categories ...string) ([]string, error) {
	return ParseListFileFor(r, name, Domains, f, categories...)
}

// ParseListFileFor is ParseListFile for a list of kind k: a prefixes list
// takes an RKNDump file's addresses, a regexes list takes the names of a
// domain format as anchored regexes (AnchoredRegex).
func ParseListFileFor(r io.Reader, name string, k ListKind, f ListFormat, categories ...string) ([]string, error) {
	items, err := parseListFile(r, name, k, ListSource{File: name, Format: f, Categories: categories})
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.value
	}
	return out, err
}

func parseListFile(r io.Reader, name string, k ListKind, src ListSource) ([]listItem, error) {
	var items []listItem
	var err error
	switch src.Format {
	case "", Lines, Hosts, DomainLines:
		items, err = parseLines(r, name, src.Format == Hosts)
	case CitizenLab:
		items, err = parseCitizenLab(r, name, src.Categories)
	case RKNDump:
		items, err = parseRKNDump(r, name, k == Prefixes)
	default:
		return nil, fmt.Errorf("unknown list format %q", src.Format)
	}
	if src.Format == DomainLines {
		e, _ := err.(*Error)
		if e == nil {
			e = &Error{}
		}
		kept := items[:0]
		for _, it := range items {
			if err := checkDomain(it.value); err != nil {
				e.add(it.pos, "", "%v", err)
				continue
			}
			kept = append(kept, it)
		}
		items, err = kept, e.errOrNil()
	}
	if k == Regexes && src.Format.yieldsDomains() {
		for i := range items {
			items[i].value = AnchoredRegex(items[i].value)
		}
	}
	return items, err
}

func parseLines(r io.Reader, name string, hosts bool) ([]listItem, error) {
	var items []listItem
	e := &Error{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		if i := strings.Index(line, "\t#"); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		pos := Pos{File: name, Line: n}
		if !hosts {
			items = append(items, listItem{line, pos})
			continue
		}
		fields := strings.Fields(line)
		if _, err := netip.ParseAddr(fields[0]); err != nil || len(fields) < 2 {
			e.add(pos, "", "hosts line %q: want an address and at least one name", line)
			continue
		}
		for _, h := range fields[1:] {
			switch h {
			case "localhost", "localhost.localdomain", "local", "broadcasthost", "ip6-localhost", "ip6-loopback":
				continue
			}
			items = append(items, listItem{h, pos})
		}
	}
	if err := sc.Err(); err != nil {
		e.add(Pos{File: name, Line: n + 1}, "", "%v", err)
	}
	return items, e.errOrNil()
}

// csvReason says what is wrong with a CSV row without quoting it.
func csvReason(err error) string {
	var ue *userfile.Error
	switch {
	case errors.Is(err, csv.ErrQuote):
		return "a quoted field is not closed (a missing or extra '\"')"
	case errors.Is(err, csv.ErrBareQuote):
		return "a '\"' in an unquoted field"
	case errors.As(err, &ue):
		return ue.Detail
	}
	return err.Error()
}

var citizenLabHeader = []string{"url", "category_code", "category_description", "date_added", "source", "notes"}

// TestListEntry is one row of a Citizen Lab test list, as written.
type TestListEntry struct {
	URL      string // trimmed, not yet parsed
	Category string // the category_code column, "" if the list has none
	Pos      Pos
}

// ReadTestList reads a Citizen Lab test-list CSV: a header that names a url
// column (and usually category_code), then one row per URL. It returns the
// header (nil if it could not be read) and the rows in order; rows that
// cannot be read are reported in the *Error with file:line and skipped.
// Judging the URLs is the caller's: a policy wants hosts, a measurement
// campaign whole URLs.
func ReadTestList(r io.Reader, name string) ([]string, []TestListEntry, error) {
	e := &Error{}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		pos := Pos{File: name, Line: 1}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			pos.Line, pos.Column, err = pe.Line, pe.Column, pe.Err
		}
		e.add(pos, "", "citizenlab list: cannot read header: %s", csvReason(err))
		return nil, nil, e
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	col := func(name string) int {
		return slices.IndexFunc(header, func(h string) bool { return strings.TrimSpace(h) == name })
	}
	ui, ci := col("url"), col("category_code")
	if ui < 0 {
		e.add(Pos{File: name, Line: 1}, "", "citizenlab list: header %q has no url column", strings.Join(header, ","))
		return header, nil, e
	}
	var entries []TestListEntry
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			// FieldPos may only be asked after a successful Read: the
			// position of a row that failed is the ParseError's.
			pos := Pos{File: name}
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				pos.Line, pos.Column = pe.Line, pe.Column
				err = pe.Err
			}
			msg := csvReason(err)
			if errors.Is(err, csv.ErrQuote) && pe.StartLine != pe.Line {
				msg += fmt.Sprintf(" (the row starts on line %d)", pe.StartLine)
			}
			e.add(pos, "", "citizenlab list: %s", msg)
			if pe == nil || errors.Is(err, csv.ErrQuote) || errors.Is(err, csv.ErrBareQuote) {
				// A reader error, or a quote that swallowed the rest
				// of the file: nothing after it can be trusted.
				break
			}
			continue
		}
		line, _ := cr.FieldPos(0)
		pos := Pos{File: name, Line: line}
		if ui >= len(rec) || ci >= len(rec) {
			e.add(pos, "", "citizenlab list: row has %d fields, want %d", len(rec), len(header))
			continue
		}
		ent := TestListEntry{URL: strings.TrimSpace(rec[ui]), Pos: pos}
		if ci >= 0 {
			ent.Category = strings.TrimSpace(rec[ci])
		}
		entries = append(entries, ent)
	}
	return header, entries, e.errOrNil()
}

// ReadTestListFile reads the Citizen Lab test list the user named at path
// (splinter run --list) as ReadTestList does, through userfile: a regular
// file within the size limit for input files, refused at once otherwise (a
// named pipe, a device).
func ReadTestListFile(path string) ([]string, []TestListEntry, error) {
	f, err := userfile.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("policy: %w", err)
	}
	defer f.Close()
	return ReadTestList(f, path)
}

func parseCitizenLab(r io.Reader, name string, categories []string) ([]listItem, error) {
	header, entries, err := ReadTestList(r, name)
	if header == nil {
		return nil, err
	}
	if !slices.Equal(header, citizenLabHeader) {
		e := &Error{}
		e.add(Pos{File: name, Line: 1}, "", "citizenlab list: header %q, want %q", strings.Join(header, ","), strings.Join(citizenLabHeader, ","))
		return nil, e
	}
	e, _ := err.(*Error)
	if e == nil {
		e = &Error{}
	}
	var items []listItem
	seen := map[string]bool{}
	for _, ent := range entries {
		if len(categories) > 0 && !slices.Contains(categories, ent.Category) {
			continue
		}
		u, err := url.Parse(ent.URL)
		if err != nil || u.Hostname() == "" {
			e.add(ent.Pos, "", "citizenlab list: url %q has no host", ent.URL)
			continue
		}
		h := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
		if seen[h] {
			continue
		}
		seen[h] = true
		items = append(items, listItem{h, ent.Pos})
	}
	return items, e.errOrNil()
}

// maxItemProblems caps the problems reported for one list's items.
const maxItemProblems = 10

func (l *List) validate(c *Checker) {
	OneOf(c, "kind", l.Kind, false, Domains, Regexes, Keywords, Prefixes, Ports)
	if len(l.Items) == 0 && len(l.From) == 0 {
		c.Errorf("", "list %q has no items and no sources", l.Name)
	}
	for i, src := range l.From {
		f := "from[" + strconv.Itoa(i) + "]"
		if src.File == "" {
			c.Errorf(f+".file", "a list source needs a file")
		} else if err := userfile.CheckRef(src.File); err != nil {
			c.Errorf(f+".file", "list file %q must lie in the policy's folder; it %s", src.File, err.(*userfile.Error).Detail)
		}
		OneOf(c, f+".format", src.Format, true, Lines, Hosts, CitizenLab, DomainLines, RKNDump)
		switch {
		case src.Format == RKNDump && l.Kind != Domains && l.Kind != Regexes && l.Kind != Prefixes:
			c.Errorf(f+".format", "format %q yields domains or addresses but list %q is a %s list", src.Format, l.Name, l.Kind)
		case src.Format.yieldsDomains() && src.Format != RKNDump && l.Kind != Domains && l.Kind != Regexes:
			c.Errorf(f+".format", "format %q yields domains but list %q is a %s list", src.Format, l.Name, l.Kind)
		}
		if len(src.Categories) > 0 && src.Format != CitizenLab {
			c.Errorf(f+".categories", "categories only apply to citizenlab files")
		}
	}
	if l.checked {
		return
	}
	bad := 0
	for i, it := range l.Items {
		err := checkItem(l.Kind, it)
		if err == nil {
			continue
		}
		bad++
		if bad > maxItemProblems {
			continue
		}
		if i < len(l.itemPos) && l.itemPos[i].IsValid() {
			c.err.add(l.itemPos[i], joinPath(c.path, "items"), "%v", err)
		} else {
			c.Errorf("items["+strconv.Itoa(i)+"]", "%v", err)
		}
	}
	if bad > maxItemProblems {
		c.Errorf("items", "%d more bad items not shown", bad-maxItemProblems)
	}
}

// checkItem reports whether item is well formed for a list of kind k.
func checkItem(k ListKind, item string) error {
	switch k {
	case Domains:
		return checkDomain(item)
	case Regexes:
		if _, err := regexp.Compile(item); err != nil {
			return fmt.Errorf("bad regex %#q: %v", item, regexpReason(err))
		}
	case Keywords:
		if item == "" {
			return errors.New("empty keyword")
		}
	case Prefixes:
		if _, err := parsePrefixItem(item); err != nil {
			return err
		}
	case Ports:
		r, err := ParsePortRange(item)
		if err != nil {
			return err
		}
		if r.Lo == 0 {
			return fmt.Errorf("port range %q includes port 0", item)
		}
	}
	return nil
}

func regexpReason(err error) string {
	var se *syntax.Error
	if errors.As(err, &se) {
		return se.Code.String()
	}
	return err.Error()
}

// parsePrefixItem parses "192.0.2.0/24" or a bare address.
func parsePrefixItem(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, fmt.Errorf("bad prefix %q", s)
		}
		if p != p.Masked() {
			return p, fmt.Errorf("prefix %q has host bits set (did you mean %s?)", s, p.Masked())
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("bad prefix or address %q", s)
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

// checkDomain reports whether s is a DNS name we can match: dot-separated
// labels of letters, digits, '-' and '_', each 1-63 bytes, 253 in all,
// optionally starting with "*." (subdomains only).
func checkDomain(s string) error {
	name := strings.TrimPrefix(s, "*.")
	name = strings.TrimSuffix(name, ".")
	if name == "" || len(name) > 253 {
		return fmt.Errorf("bad domain %q", s)
	}
	for label := range strings.SplitSeq(name, ".") {
		if len(label) == 0 || len(label) > 63 {
			return fmt.Errorf("bad domain %q: empty or over-long label", s)
		}
		for i := 0; i < len(label); i++ {
			b := label[i]
			if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_') {
				return fmt.Errorf("bad domain %q: byte %q not allowed", s, b)
			}
		}
	}
	return nil
}
