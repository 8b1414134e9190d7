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

// Page is the site's HTML page: Body as written, or, when Body is empty,
// a page generated from the domain, title and category, distinct for every
// domain. A generated page weighs about 4 KB: real home pages weigh tens
// of kilobytes (HTTP Archive, Web Almanac 2024: median HTML 30 KB), and a
// page as small as a censor's block page (250-600 bytes here) would pass
// OONI's body-length comparison (a proportion above 0.7) and hide the
// block page from any probe. It is generated on demand, not kept in the
// plan, so that a scenario of a million sites costs no page memory.
func (s Site) Page() string {
	if s.Body != "" {
		return s.Body
	}
	topic := strings.ToLower(s.Category)
	if c, ok := LookupCategory(s.Category); ok {
		topic = strings.ToLower(c.Name)
	}
	if topic == "" {
		topic = "everything"
	}
	topic = html.EscapeString(topic)
	title := s.Title
	if title == "" {
		title = siteTitle(s.Domain, s.Category)
	}
	h := fnv.New64a()
	h.Write([]byte(s.Domain))
	sum := h.Sum64()
	domain := html.EscapeString(s.Domain)
	var b strings.Builder
	b.Grow(5 << 10)
	t := html.EscapeString(title)
	b.WriteString("<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><title>")
	b.WriteString(t)
	b.WriteString("</title></head>\n<body>\n<nav><a href=\"/\">Home</a> <a href=\"/about\">About</a> <a href=\"/archive\">Archive</a> <a href=\"/contact\">Contact</a></nav>\n<h1>")
	b.WriteString(t)
	b.WriteString("</h1>\n")
	// Paragraphs of three different sentences: steps coprime with 12
	// never repeat within 3.
	n := uint64(len(sentences))
	paras := 8 + sum%4
	for p := range paras {
		base, step := (sum+p*5)%n, []uint64{1, 5, 7, 11}[((sum>>8)+p)%4]
		b.WriteString("<p>")
		for i := range uint64(3) {
			if i > 0 {
				b.WriteByte(' ')
			}
			before, after, _ := strings.Cut(sentences[(base+i*step)%n], "%s")
			b.WriteString(before)
			b.WriteString(topic)
			b.WriteString(after)
		}
		b.WriteString("</p>\n")
	}
	b.WriteString("<h2>From the archive</h2>\n<ul>\n")
	for i := range uint64(12) {
		b.WriteString("<li><a href=\"/archive/")
		b.WriteString(strconv.FormatUint(2014+(sum>>(i+16)+i)%12, 10))
		b.WriteString("/")
		b.WriteString(strconv.FormatUint(i+1, 10))
		b.WriteString("\">")
		b.WriteString(strings.ToUpper(topic[:1]) + topic[1:])
		b.WriteString(", part ")
		b.WriteString(strconv.FormatUint(i+1, 10))
		b.WriteString("</a></li>\n")
	}
	b.WriteString("</ul>\n<footer><p>You are reading ")
	b.WriteString(domain)
	b.WriteString(" (category ")
	b.WriteString(html.EscapeString(s.Category))
	b.WriteString("). Page reference ")
	var ref [16]byte
	hex := strconv.AppendUint(ref[:0], sum, 16)
	b.WriteString(strings.Repeat("0", 16-len(hex)))
	b.Write(hex)
	b.WriteString(".</p></footer>\n</body>\n</html>\n")
	return b.String()
}
