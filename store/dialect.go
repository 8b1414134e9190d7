package store

import (
	"fmt"
	"strconv"
	"strings"
)

// dialect renders the abstract schema and the few statements that differ
// between SQLite, PostgreSQL and ClickHouse. Queries are written once with
// ? placeholders and rebound.
type dialect struct {
	name string
	// replacing: the database has no unique keys; a later row with the same
	// key replaces an earlier one at merge time (ClickHouse's
	// ReplacingMergeTree), and reads say FINAL.
	replacing bool
}

var (
	sqliteDialect     = &dialect{name: "sqlite"}
	postgresDialect   = &dialect{name: "postgres"}
	clickhouseDialect = &dialect{name: "clickhouse", replacing: true}
)

func (d *dialect) typ(t colType) string {
	switch d.name {
	case "sqlite":
		switch t {
		case tText, tTextNull, tJSON:
			return "TEXT"
		case tInt, tIntNull, tBool, tBoolNull:
			return "INTEGER"
		case tReal, tRealNull:
			return "REAL"
		}
	case "postgres":
		switch t {
		case tText, tTextNull:
			// Bytewise order, as SQLite's and ClickHouse's, so that keyset
			// paging and merges by key agree across dialects.
			return `TEXT COLLATE "C"`
		case tJSON:
			return "JSON" // kept byte for byte, unlike JSONB
		case tInt, tIntNull:
			return "BIGINT"
		case tBool, tBoolNull:
			return "BOOLEAN"
		case tReal, tRealNull:
			return "DOUBLE PRECISION"
		}
	case "clickhouse":
		switch t {
		case tText, tJSON:
			return "String"
		case tTextNull:
			return "Nullable(String)"
		case tInt:
			return "Int64"
		case tIntNull:
			return "Nullable(Int64)"
		case tBool:
			return "UInt8"
		case tBoolNull:
			return "Nullable(UInt8)"
		case tReal:
			return "Float64"
		case tRealNull:
			return "Nullable(Float64)"
		}
	}
	panic(fmt.Sprintf("store: no %s type for %d", d.name, t))
}

func nullable(t colType) bool {
	switch t {
	case tTextNull, tIntNull, tRealNull, tBoolNull:
		return true
	}
	return false
}

// createTable returns the statements that create t and its indexes.
func (d *dialect) createTable(t *table) []string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE IF NOT EXISTS %s (", t.name)
	for i, c := range t.cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(d.columnDef(c))
	}
	if d.replacing {
		fmt.Fprintf(&b, ") ENGINE = ReplacingMergeTree ORDER BY (%s)", strings.Join(t.key, ", "))
		return []string{b.String()}
	}
	fmt.Fprintf(&b, ", PRIMARY KEY (%s))", strings.Join(t.key, ", "))
	out := []string{b.String()}
	for _, ix := range t.indexes {
		out = append(out, d.createIndex(t.name, ix))
	}
	return out
}

func (d *dialect) columnDef(c column) string {
	s := c.name + " " + d.typ(c.typ)
	if !d.replacing && !nullable(c.typ) {
		s += " NOT NULL"
	}
	return s
}

func (d *dialect) createIndex(tbl string, cols []string) string {
	return fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s_%s ON %s (%s)", tbl, strings.Join(cols, "_"), tbl, strings.Join(cols, ", "))
}

// addColumn returns the statement that adds c to tbl. Callers check that
// the column is absent first (ClickHouse 18 and SQLite have no IF NOT
// EXISTS here).
func (d *dialect) addColumn(tbl string, c column) string {
	return fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s", tbl, d.columnDef(c))
}

// insertMode says what an insert does with a row whose key exists.
type insertMode int

const (
	insertPlain   insertMode = iota // the key is new (or the caller deleted it)
	insertReplace                   // the new row replaces the old one
	insertKeep                      // the old row stays
)

// insert returns an INSERT statement for cols of t.
func (d *dialect) insert(t *table, cols []string, mode insertMode) string {
	return d.insertRows(t, cols, mode, 1)
}

// insertRows returns an INSERT statement for n rows at once (SQL
// dialects: one round trip for many rows).
func (d *dialect) insertRows(t *table, cols []string, mode insertMode, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES ", t.name, strings.Join(cols, ", "))
	tuple := "(" + marks(len(cols)) + ")"
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(tuple)
	}
	if d.replacing {
		// A later row with the same key replaces the earlier one at merge
		// time. clickhouse-go batches the rows of a prepared INSERT.
		return b.String()
	}
	switch mode {
	case insertKeep:
		fmt.Fprintf(&b, " ON CONFLICT (%s) DO NOTHING", strings.Join(t.key, ", "))
	case insertReplace:
		fmt.Fprintf(&b, " ON CONFLICT (%s) DO UPDATE SET ", strings.Join(t.key, ", "))
		n := 0
		for _, c := range cols {
			if contains(t.key, c) {
				continue
			}
			if n > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s = excluded.%s", c, c)
			n++
		}
	}
	return d.rebind(b.String())
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// rebind turns ? placeholders into PostgreSQL's $n. Queries in this
// package never hold a literal ? in a string.
func (d *dialect) rebind(q string) string {
	if d.name != "postgres" {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// from names a table to read: ClickHouse reads merged (FINAL) so that
// replaced rows are gone.
func (d *dialect) from(tbl string) string {
	if d.replacing {
		return tbl + " FINAL"
	}
	return tbl
}

// arg converts a Go value for the driver: ClickHouse 18 has no boolean type.
func (d *dialect) arg(v any) any {
	if d.name != "clickhouse" {
		return v
	}
	switch x := v.(type) {
	case bool:
		if x {
			return uint8(1)
		}
		return uint8(0)
	case *bool:
		if x == nil {
			return (*uint8)(nil)
		}
		u := uint8(0)
		if *x {
			u = 1
		}
		return &u
	}
	return v
}

// keyCmp compares the (vantage, input) key with a bound: "(vantage, input)
// >= (?, ?)", which SQLite and PostgreSQL answer from the key's index;
// ClickHouse 18 has no tuple comparison, so it gets the expanded form. It
// returns the clause and its arguments.
func (d *dialect) keyCmp(op string, k Key) (string, []any) {
	if d.replacing {
		strict := strings.TrimSuffix(op, "=")
		return "(vantage " + strict + " ? OR (vantage = ? AND input " + op + " ?))", []any{k.Vantage, k.Vantage, k.Input}
	}
	return "(vantage, input) " + op + " (?, ?)", []any{k.Vantage, k.Input}
}
