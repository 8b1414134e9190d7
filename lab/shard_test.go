package lab_test

import (
	"fmt"
	"testing"

	"github.com/splinter-lab/splinter/lab"
)

// TestParseShard: I/N, /N with the index from a Kubernetes Indexed Job's
// variable, and what is refused.
func TestParseShard(t *testing.T) {
	t.Setenv(lab.JobIndexEnv, "2")
	for _, tc := range []struct {
		in   string
		want lab.Shard
		ok   bool
	}{
		{"0/3", lab.Shard{Index: 0, Count: 3}, true},
		{"/3", lab.Shard{Index: 2, Count: 3}, true},
		{"3/3", lab.Shard{}, false},
		{"-1/3", lab.Shard{}, false},
		{"1/0", lab.Shard{}, false},
		{"a/3", lab.Shard{}, false},
		{"3", lab.Shard{}, false},
	} {
		got, err := lab.ParseShard(tc.in)
		if (err == nil) != tc.ok || tc.ok && got != tc.want {
			t.Errorf("ParseShard(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	// Every pair falls in exactly one shard.
	for _, v := range []string{"cn-client-1", "us-client-1"} {
		for i := range 50 {
			in := fmt.Sprintf("http://www.site-%d.com/", i)
			n := 0
			for k := range 3 {
				if (lab.Shard{Index: k, Count: 3}).Includes(v, in) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%s %s is in %d shards of 3", v, in, n)
			}
		}
	}
}
