//go:build linux

package portal_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkDownload measures one large HTTP download from a server on
// us-vps-1 to a client on cn-client-1, across the CN border (whose engine
// reassembles every TCP flow for its SNI rule), at MTU 1500: between
// in-process hosts (gVisor stacks at both ends), and between real programs
// in namespaces (the test binary as server, curl as client). Each iteration
// includes making the client's namespace. Compare the Gbit/s:
//
//	go test ./portal -run '^$' -bench Download -benchtime 5x
func BenchmarkDownload(b *testing.B) {
	const size = 256 << 20
	url := "http://us-vps-1:8080/bytes?n=" + strconv.Itoa(size)
	b.Run("in-process", func(b *testing.B) {
		w, _ := lab(b)
		srv := w.Host("us-vps-1")
		ln, err := srv.Listen("tcp", ":8080")
		if err != nil {
			b.Fatal(err)
		}
		zeros := make([]byte, 1<<20)
		hs := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			rw.Header().Set("Content-Length", strconv.Itoa(size))
			for n := size; n > 0; n -= len(zeros) {
				if _, err := rw.Write(zeros[:min(n, len(zeros))]); err != nil {
					return
				}
			}
		})}
		go hs.Serve(ln)
		defer hs.Close()
		hc := w.Host("cn-client-1").HTTPClient()
		u := strings.Replace(url, "us-vps-1", srv.Addr(4).String(), 1)
		b.SetBytes(size)
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			cancel()
			if err != nil || n != size {
				b.Fatalf("got %d bytes: %v", n, err)
			}
		}
		b.ReportMetric(float64(b.N)*size*8/time.Since(start).Seconds()/1e9, "Gbit/s")
	})
	b.Run("exec", func(b *testing.B) {
		if _, err := exec.LookPath("curl"); err != nil {
			b.Skip("skipping: curl is not installed")
		}
		_, l := lab(b)
		startServer(b, l, "us-vps-1", ":8080")
		b.SetBytes(size)
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			out, errOut, err := run(b, l, "cn-client-1", nil, "curl", "-sS", "--max-time", "60", "-o", "/dev/null", "-w", "%{size_download}", url)
			if err != nil || out != fmt.Sprint(size) {
				b.Fatalf("curl: %v %q %s", err, out, errOut)
			}
		}
		b.ReportMetric(float64(b.N)*size*8/time.Since(start).Seconds()/1e9, "Gbit/s")
	})
}
