// Package export writes a run's measurements out of the store for other
// tools: one row per observation (OONI pipeline v5's obs_web columns: a
// measurement × endpoint) with its measurement's verdicts (measured and
// true) beside it, as Parquet (for DuckDB, pandas, Spark), CSV or JSON
// lines. A measurement without observations is one row with the
// observation's columns empty.
//
// It reads through package store and streams: memory does not grow with
// the run. It does not choose which run or where to write (the CLI does).
//
// Parquet is written with github.com/parquet-go/parquet-go (Snappy
// compression, nanosecond UTC timestamps, optional columns where a value
// may be absent); CSV and JSON lines with the standard library, from the
// same Row type, so the three formats have the same columns in the same
// order. A test reads the Parquet back with an independent implementation
// (github.com/xitongsys/parquet-go), cell by cell; DuckDB 1.5 (through
// duckdb-go v2.10506.0, checked by hand: it needs cgo and a 50 MB library,
// so no test here links it) reads the file with the same row count and
// typed columns (TIMESTAMP WITH TIME ZONE, BOOLEAN, BIGINT, DOUBLE,
// VARCHAR).
package export

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/splinter-lab/splinter/store"
)

// Format is an export format.
type Format string

// Formats.
const (
	Parquet Format = "parquet"
	CSV     Format = "csv"
	JSONL   Format = "jsonl"
)

// Formats lists the formats, for usage messages.
var Formats = []Format{Parquet, CSV, JSONL}

// ParseFormat reads a format's name.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if strings.EqualFold(s, string(f)) {
			return f, nil
		}
	}
	return "", fmt.Errorf("export: unknown format %q (want parquet, csv or jsonl)", s)
}

// Source is where rows come from: *store.Store.
type Source interface {
	Records(ctx context.Context, run string) iter.Seq2[store.Record, error]
}

var _ Source = (*store.Store)(nil)

// Row is one exported row. Its parquet and json tags name the columns of
// every format.
type Row struct {
	RunID    string    `parquet:"run_id" json:"run_id"`
	UID      string    `parquet:"measurement_uid" json:"measurement_uid"`
	Vantage  string    `parquet:"vantage" json:"vantage"`
	Input    string    `parquet:"input" json:"input"`
	Domain   string    `parquet:"domain" json:"domain"`
	Category string    `parquet:"category" json:"category"`
	ProbeCC  string    `parquet:"probe_cc" json:"probe_cc"`
	ProbeASN int64     `parquet:"probe_asn" json:"probe_asn"`
	Network  string    `parquet:"probe_network_name" json:"probe_network_name"`
	Start    time.Time `parquet:"measurement_start_time,timestamp(nanosecond:utc)" json:"measurement_start_time"`
	Runtime  float64   `parquet:"test_runtime" json:"test_runtime"`
	Verdict  string    `parquet:"verdict" json:"verdict"`
	Methods  string    `parquet:"methods" json:"methods"`
	Reason   string    `parquet:"verdict_reason" json:"verdict_reason"`
	Truth    *string   `parquet:"truth,optional" json:"truth"`
	Agree    *bool     `parquet:"agree,optional" json:"agree"`

	ObservationIdx *int64  `parquet:"observation_idx,optional" json:"observation_idx"`
	Hostname       *string `parquet:"hostname,optional" json:"hostname"`
	IP             *string `parquet:"ip,optional" json:"ip"`
	Port           *int64  `parquet:"port,optional" json:"port"`
	Transport      *string `parquet:"transport,optional" json:"transport"`
	IPASN          *int64  `parquet:"ip_asn,optional" json:"ip_asn"`

	DNSQueryType  *string  `parquet:"dns_query_type,optional" json:"dns_query_type"`
	DNSEngine     *string  `parquet:"dns_engine,optional" json:"dns_engine"`
	DNSResolver   *string  `parquet:"dns_engine_resolver_address,optional" json:"dns_engine_resolver_address"`
	DNSFailure    *string  `parquet:"dns_failure,optional" json:"dns_failure"`
	DNSRcode      *string  `parquet:"dns_rcode,optional" json:"dns_rcode"`
	DNSAnswerType *string  `parquet:"dns_answer_type,optional" json:"dns_answer_type"`
	DNSAnswer     *string  `parquet:"dns_answer,optional" json:"dns_answer"`
	DNSAnswerLate *bool    `parquet:"dns_answer_late,optional" json:"dns_answer_late"`
	DNST          *float64 `parquet:"dns_t,optional" json:"dns_t"`

	TCPSuccess *bool    `parquet:"tcp_success,optional" json:"tcp_success"`
	TCPFailure *string  `parquet:"tcp_failure,optional" json:"tcp_failure"`
	TCPBlocked *bool    `parquet:"tcp_blocked,optional" json:"tcp_blocked"`
	TCPT       *float64 `parquet:"tcp_t,optional" json:"tcp_t"`

	TLSServerName      *string  `parquet:"tls_server_name,optional" json:"tls_server_name"`
	TLSVersion         *string  `parquet:"tls_version,optional" json:"tls_version"`
	TLSCipherSuite     *string  `parquet:"tls_cipher_suite,optional" json:"tls_cipher_suite"`
	TLSALPN            *string  `parquet:"tls_alpn,optional" json:"tls_alpn"`
	TLSSuccess         *bool    `parquet:"tls_success,optional" json:"tls_success"`
	TLSFailure         *string  `parquet:"tls_failure,optional" json:"tls_failure"`
	TLSFailedOperation *string  `parquet:"tls_failed_operation,optional" json:"tls_failed_operation"`
	TLSChainLength     *int64   `parquet:"tls_certificate_chain_length,optional" json:"tls_certificate_chain_length"`
	TLST               *float64 `parquet:"tls_t,optional" json:"tls_t"`

	HTTPRequestURL      *string  `parquet:"http_request_url,optional" json:"http_request_url"`
	HTTPRequestMethod   *string  `parquet:"http_request_method,optional" json:"http_request_method"`
	HTTPFailure         *string  `parquet:"http_failure,optional" json:"http_failure"`
	HTTPStatusCode      *int64   `parquet:"http_response_status_code,optional" json:"http_response_status_code"`
	HTTPBodyLength      *int64   `parquet:"http_response_body_length,optional" json:"http_response_body_length"`
	HTTPBodyIsTruncated *bool    `parquet:"http_response_body_is_truncated,optional" json:"http_response_body_is_truncated"`
	HTTPBodySHA1        *string  `parquet:"http_response_body_sha1,optional" json:"http_response_body_sha1"`
	HTTPHeaderLocation  *string  `parquet:"http_response_header_location,optional" json:"http_response_header_location"`
	HTTPHeaderServer    *string  `parquet:"http_response_header_server,optional" json:"http_response_header_server"`
	HTTPT               *float64 `parquet:"http_t,optional" json:"http_t"`
}

// RowOf flattens a record.
func RowOf(r store.Record) Row {
	methods := make([]string, len(r.Methods))
	for i, m := range r.Methods {
		methods[i] = string(m)
	}
	row := Row{
		RunID: r.Run, UID: r.UID, Vantage: r.Vantage, Input: r.Input, Domain: r.Domain, Category: r.Category,
		ProbeCC: r.CC, ProbeASN: r.ASN, Network: r.Network, Start: r.Start.UTC(), Runtime: r.Runtime,
		Verdict: string(r.Verdict), Methods: strings.Join(methods, ","), Reason: r.Reason, Agree: r.Agree,
	}
	if r.Truth != "" {
		t := string(r.Truth)
		row.Truth = &t
	}
	if !r.HasObservation {
		return row
	}
	o := r.Observation
	idx := int64(o.Idx)
	row.ObservationIdx, row.Hostname, row.Transport, row.IPASN = &idx, &o.Hostname, &o.Transport, o.IPASN
	if o.IP.IsValid() {
		ip := o.IP.String()
		row.IP = &ip
	}
	if o.Port != nil {
		p := int64(*o.Port)
		row.Port = &p
	}
	row.DNSQueryType, row.DNSEngine, row.DNSResolver, row.DNSFailure, row.DNSRcode = o.DNSQueryType, o.DNSEngine, o.DNSResolver, o.DNSFailure, o.DNSRcode
	row.DNSAnswerType, row.DNSAnswer, row.DNSAnswerLate, row.DNST = o.DNSAnswerType, o.DNSAnswer, o.DNSAnswerLate, o.DNST
	row.TCPSuccess, row.TCPFailure, row.TCPBlocked, row.TCPT = o.TCPSuccess, o.TCPFailure, o.TCPBlocked, o.TCPT
	row.TLSServerName, row.TLSVersion, row.TLSCipherSuite, row.TLSALPN = o.TLSServerName, o.TLSVersion, o.TLSCipherSuite, o.TLSALPN
	row.TLSSuccess, row.TLSFailure, row.TLSFailedOperation, row.TLSChainLength, row.TLST = o.TLSSuccess, o.TLSFailure, o.TLSFailedOperation, o.TLSCertificateChainLen, o.TLST
	row.HTTPRequestURL, row.HTTPRequestMethod, row.HTTPFailure, row.HTTPStatusCode, row.HTTPBodyLength = o.HTTPRequestURL, o.HTTPRequestMethod, o.HTTPFailure, o.HTTPStatusCode, o.HTTPBodyLength
	row.HTTPBodyIsTruncated, row.HTTPBodySHA1, row.HTTPHeaderLocation, row.HTTPHeaderServer, row.HTTPT = o.HTTPBodyIsTruncated, o.HTTPBodySHA1, o.HTTPHeaderLocation, o.HTTPHeaderServer, o.HTTPT
	return row
}

// Write writes run's rows from src to w in format f and returns how many
// rows it wrote.
func Write(ctx context.Context, w io.Writer, src Source, run string, f Format) (int, error) {
	var out rowWriter
	switch f {
	case Parquet:
		out = newParquetWriter(w)
	case CSV:
		out = newCSVWriter(w)
	case JSONL:
		out = newJSONLWriter(w)
	default:
		return 0, fmt.Errorf("export: unknown format %q", f)
	}
	n := 0
	for rec, err := range src.Records(ctx, run) {
		if err != nil {
			return n, fmt.Errorf("export: run %s: %w", run, err)
		}
		if err := out.write(RowOf(rec)); err != nil {
			return n, fmt.Errorf("export: %s: %w", f, err)
		}
		n++
	}
	if err := out.close(); err != nil {
		return n, fmt.Errorf("export: %s: %w", f, err)
	}
	return n, nil
}

type rowWriter interface {
	write(Row) error
	close() error
}

// parquetWriter hands rows to parquet-go in slices; it flushes a row group
// every rowGroup rows, so memory stays bounded.
type parquetWriter struct {
	w   *parquet.GenericWriter[Row]
	buf []Row
	n   int
}

const rowGroup = 64 << 10

func newParquetWriter(w io.Writer) *parquetWriter {
	return &parquetWriter{w: parquet.NewGenericWriter[Row](w, parquet.Compression(&parquet.Snappy), parquet.CreatedBy("splinter", "", ""))}
}

func (p *parquetWriter) write(r Row) error {
	p.buf = append(p.buf, r)
	if len(p.buf) < 1024 {
		return nil
	}
	return p.flush()
}

func (p *parquetWriter) flush() error {
	if _, err := p.w.Write(p.buf); err != nil {
		return err
	}
	p.n += len(p.buf)
	p.buf = p.buf[:0]
	if p.n >= rowGroup {
		p.n = 0
		return p.w.Flush()
	}
	return nil
}

func (p *parquetWriter) close() error {
	if len(p.buf) > 0 {
		if err := p.flush(); err != nil {
			return err
		}
	}
	return p.w.Close()
}

type jsonlWriter struct {
	bw  *bufio.Writer
	enc *json.Encoder
}

func newJSONLWriter(w io.Writer) *jsonlWriter {
	bw := bufio.NewWriterSize(w, 1<<16)
	return &jsonlWriter{bw: bw, enc: json.NewEncoder(bw)}
}

func (j *jsonlWriter) write(r Row) error { return j.enc.Encode(r) }
func (j *jsonlWriter) close() error      { return j.bw.Flush() }

// csvWriter writes the header, then a line per row: NULL is an empty
// field, times are RFC 3339 with nanoseconds, booleans true and false.
type csvWriter struct {
	w      *csv.Writer
	header bool
	rec    []string
}

func newCSVWriter(w io.Writer) *csvWriter { return &csvWriter{w: csv.NewWriter(w)} }

// Columns are the names of the columns, in order.
func Columns() []string {
	t := reflect.TypeFor[Row]()
	out := make([]string, t.NumField())
	for i := range t.NumField() {
		out[i], _, _ = strings.Cut(t.Field(i).Tag.Get("json"), ",")
	}
	return out
}

func (c *csvWriter) write(r Row) error {
	if !c.header {
		c.header = true
		if err := c.w.Write(Columns()); err != nil {
			return err
		}
	}
	v := reflect.ValueOf(r)
	c.rec = c.rec[:0]
	for i := range v.NumField() {
		c.rec = append(c.rec, field(v.Field(i)))
	}
	return c.w.Write(c.rec)
}

func field(v reflect.Value) string {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return ""
		}
		v = v.Elem()
	}
	switch x := v.Interface().(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	panic(fmt.Sprintf("export: no CSV form for %s", v.Type()))
}

func (c *csvWriter) close() error {
	if !c.header {
		c.header = true
		if err := c.w.Write(Columns()); err != nil {
			return err
		}
	}
	c.w.Flush()
	return c.w.Error()
}
