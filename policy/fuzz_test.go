package policy

import (
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
)

// FuzzLoad checks that Load never panics and that a policy it accepts
// validates again unchanged.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	bad, _ := filepath.Glob("testdata/bad/*.yaml")
	for _, name := range append(files, bad...) {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	fsys := fstest.MapFS{"lists/l.txt": {Data: []byte("example.com\n")}}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Load("fuzz.yaml", data, fsys, ".")
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error is %T, want *Error", err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("loaded policy fails Validate: %v", err)
		}
		if _, err := p.CompileLists(); err != nil {
			t.Fatalf("valid policy's lists do not compile: %v", err)
		}
	})
}
