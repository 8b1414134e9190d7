package scenario

import (
	"strconv"
	"strings"
)

// Problem is one thing wrong with a scenario, and where it was written.
type Problem struct {
	Pos Pos // zero for scenarios built in Go
	Msg string
}

// String returns "file:line:column: msg", or "scenario: msg" when the
// position is unknown.
func (p Problem) String() string {
	if ps := p.Pos.String(); ps != "" {
		return ps + ": " + p.Msg
	}
	return "scenario: " + p.Msg
}

// Error is every problem found in a scenario by Load, Validate or Plan. It is
// returned as a non-nil *Error only when it holds at least one problem.
type Error struct {
	Problems []Problem
}

// Error prints one problem per line.
func (e *Error) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// problems collects Problems; its err method returns nil or an *Error.
type problems []Problem

func (ps *problems) add(pos Pos, msg string) {
	*ps = append(*ps, Problem{Pos: pos, Msg: msg})
}

func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return &Error{Problems: ps}
}

func quote(s string) string { return strconv.Quote(s) }
