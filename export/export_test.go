package export_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/xitongsys/parquet-go-source/buffer"
	"github.com/xitongsys/parquet-go/reader"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/export"
	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/score"
	"github.com/splinter-lab/splinter/store"
)

// runStore writes the store package's fixture (a real run's excerpt) into
// a new SQLite store and returns it with the rows an export must hold.
func runStore(t *testing.T) (*store.Store, []export.Row) {
	t.Helper()
	ctx := context.Background()
	var ms []*probe.Measurement
	lines(t, "../store/testdata/measurements.jsonl", func(b []byte) {
		m := new(probe.Measurement)
		if err := json.Unmarshal(b, m); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	})
	var ds []border.Decision
	lines(t, "../store/testdata/decisions.jsonl", func(b []byte) {
		var d border.Decision
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	})
	s, err := store.Open(ctx, filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	w, err := s.Begin(ctx, store.Run{ID: "r1", Scenario: "splinternet"}, store.Part{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if err := w.Measurement(m); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range ds {
		if err := w.Decision(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Result(score.Score(ms, ds)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx, store.Complete, store.Health{}); err != nil {
		t.Fatal(err)
	}
	// What the rows must be, derived from the measurements themselves.
	var want []export.Row
	for _, m := range ms {
		k := store.Key{Vantage: m.TestKeys.Vantage.Host, Input: m.Input}
		for _, o := range store.Observations(m) {
			r, err := s.Measurement(ctx, "r1", k)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, export.RowOf(store.Record{Run: "r1", Summary: r.Summary, Observation: o, HasObservation: true}))
		}
	}
	if len(want) < len(ms) {
		t.Fatalf("%d rows for %d measurements", len(want), len(ms))
	}
	return s, want
}

func lines(t *testing.T, path string, f func([]byte)) {
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		f(sc.Bytes())
	}
}

// sortRows puts rows in the export's order: by vantage, input,
// observation.
func sortRows(rows []export.Row) {
	key := func(r export.Row) string {
		return r.Vantage + "\x00" + r.Input + "\x00" + string(rune(*r.ObservationIdx+'0'))
	}
	for i := range rows {
		for j := i + 1; j < len(rows); j++ {
			if key(rows[j]) < key(rows[i]) {
				rows[i], rows[j] = rows[j], rows[i]
			}
		}
	}
}

// TestParquetReadBack writes a run as Parquet and reads it back with an
// independent implementation (github.com/xitongsys/parquet-go), column by
// column: the same number of rows and the same value in every cell.
func TestParquetReadBack(t *testing.T) {
	s, want := runStore(t)
	sortRows(want)
	var buf bytes.Buffer
	n, err := export.Write(context.Background(), &buf, s, "r1", export.Parquet)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(want) {
		t.Fatalf("wrote %d rows, want %d", n, len(want))
	}
	pr, err := reader.NewParquetColumnReader(buffer.NewBufferFileFromBytes(buf.Bytes()), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer pr.ReadStop()
	if got := pr.GetNumRows(); got != int64(len(want)) {
		t.Fatalf("the reader counts %d rows, want %d", got, len(want))
	}
	cols := export.Columns()
	leaves := pr.SchemaHandler.Infos[1:] // the file's own names (Footer.Schema holds the reader's)
	if len(leaves) != len(cols) {
		t.Fatalf("%d columns in the file, want %d", len(leaves), len(cols))
	}
	for i, name := range cols {
		if leaves[i].ExName != name {
			t.Fatalf("column %d is %q, want %q", i, leaves[i].ExName, name)
		}
		vals, _, _, err := pr.ReadColumnByIndex(int64(i), int64(len(want)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(vals) != len(want) {
			t.Fatalf("%s: %d values, want %d", name, len(vals), len(want))
		}
		for j, got := range vals {
			exp := cell(reflect.ValueOf(want[j]).Field(i))
			if !reflect.DeepEqual(got, exp) {
				t.Errorf("row %d %s: read %#v, want %#v", j, name, got, exp)
			}
		}
	}
}

// cell is a Row field as a Parquet reader returns it: nil for NULL,
// nanoseconds for times.
func cell(v reflect.Value) any {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if t, ok := v.Interface().(time.Time); ok {
		return t.UnixNano()
	}
	return v.Interface()
}

func TestJSONLAndCSV(t *testing.T) {
	s, want := runStore(t)
	sortRows(want)
	ctx := context.Background()

	var jl bytes.Buffer
	if _, err := export.Write(ctx, &jl, s, "r1", export.JSONL); err != nil {
		t.Fatal(err)
	}
	var got []export.Row
	dec := json.NewDecoder(&jl)
	for dec.More() {
		var r export.Row
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if string(gj) != string(wj) {
		t.Errorf("jsonl rows differ:\n got %s\nwant %s", gj, wj)
	}

	var cb bytes.Buffer
	if _, err := export.Write(ctx, &cb, s, "r1", export.CSV); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&cb).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(want)+1 || strings.Join(recs[0], ",") != strings.Join(export.Columns(), ",") {
		t.Fatalf("%d CSV lines, header %v", len(recs), recs[0])
	}
	col := map[string]int{}
	for i, c := range recs[0] {
		col[c] = i
	}
	for i, w := range want {
		r := recs[i+1]
		ip := ""
		if w.IP != nil {
			ip = *w.IP
		}
		if r[col["vantage"]] != w.Vantage || r[col["verdict"]] != w.Verdict || r[col["ip"]] != ip ||
			r[col["measurement_start_time"]] != w.Start.Format(time.RFC3339Nano) || (w.TCPSuccess == nil) != (r[col["tcp_success"]] == "") {
			t.Errorf("CSV line %d: %v", i+1, r)
		}
	}

	// An empty run is a header alone.
	cb.Reset()
	if n, err := export.Write(ctx, &cb, s, "none", export.CSV); err != nil || n != 0 || strings.Count(cb.String(), "\n") != 1 {
		t.Errorf("empty run: %d rows, %v, %q", n, err, cb.String())
	}
	if _, err := export.ParseFormat("xlsx"); err == nil {
		t.Error("xlsx accepted")
	}
}
