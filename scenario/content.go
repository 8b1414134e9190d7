package scenario

import (
	"hash/fnv"
	"html"
	"strconv"
	"strings"
)

// siteTitle makes a title from a domain and category:
// "forum.free-press.org", "NEWS" gives "Free Press Forum | News Media".
func siteTitle(domain, category string) string {
	labels := strings.Split(domain, ".")
	name := domain
	if len(labels) >= 2 {
		name = words(labels[len(labels)-2])
		if len(labels) > 2 && labels[0] != "www" {
			name += " " + words(labels[0])
		}
	}
	if c, ok := LookupCategory(category); ok {
		return name + " | " + c.Name
	}
	return name
}

// words turns "free-press" into "Free Press".
func words(label string) string {
	ws := strings.Split(label, "-")
	for i, w := range ws {
		if w != "" {
			ws[i] = strings.ToUpper(w[:1]) + w[1:]
		}
	}
	return strings.Join(ws, " ")
}

var sentences = []string{
	"Welcome to our pages on %s, updated every morning by a small and stubborn team.",
	"Readers from many countries write to us about %s; we answer every letter.",
	"This week we collected new material on %s from archives, interviews and field notes.",
	"Our editors believe that open access to %s matters more than ever.",
	"Subscribe to the weekly digest to follow %s without missing a thing.",
	"Everything here about %s is free to read, copy and share with attribution.",
	"Volunteers translated our guide to %s into eleven languages last year.",
	"Questions about %s? Our forum is open day and night.",
	"We have been publishing on %s since the early days of the web.",
	"The archive holds thousands of documents about %s, searchable by date.",
	"A new section on %s opens next month, with contributions from readers.",
	"Mirrors of this site keep %s reachable when the main address is not.",
}

// siteBody makes a small HTML page for a site: a few hundred bytes of text,
// distinct for every domain, with the title in it. It writes the page
// piece by piece rather than through fmt, as Plan makes one for every site.
func siteBody(s Site) string {
	topic := strings.ToLower(s.Category)
	if c, ok := LookupCategory(s.Category); ok {
		topic = strings.ToLower(c.Name)
	}
	topic = html.EscapeString(topic)
	h := fnv.New64a()
	h.Write([]byte(s.Domain))
	sum := h.Sum64()
	var b strings.Builder
	b.Grow(768)
	t := html.EscapeString(s.Title)
	b.WriteString("<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><title>")
	b.WriteString(t)
	b.WriteString("</title></head>\n<body>\n<h1>")
	b.WriteString(t)
	b.WriteString("</h1>\n<p>")
	// Three different sentences: steps coprime with 12 never repeat within 3.
	n := uint64(len(sentences))
	base, step := sum%n, []uint64{1, 5, 7, 11}[(sum>>8)%4]
	for i := range uint64(3) {
		if i > 0 {
			b.WriteByte(' ')
		}
		before, after, _ := strings.Cut(sentences[(base+i*step)%n], "%s")
		b.WriteString(before)
		b.WriteString(topic)
		b.WriteString(after)
	}
	b.WriteString("</p>\n<p>You are reading ")
	b.WriteString(html.EscapeString(s.Domain))
	b.WriteString(" (category ")
	b.WriteString(html.EscapeString(s.Category))
	b.WriteString("). Page reference ")
	var ref [16]byte
	hex := strconv.AppendUint(ref[:0], sum, 16)
	b.WriteString(strings.Repeat("0", 16-len(hex)))
	b.Write(hex)
	b.WriteString(".</p>\n</body>\n</html>\n")
	return b.String()
}
