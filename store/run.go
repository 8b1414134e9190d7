package store

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Run describes a run: one campaign of measurements of one world. Shards of
// a run (several processes measuring parts of it) share its ID and
// describe it alike; the first to begin writes it.
type Run struct {
	// ID names the run; the caller chooses it (NewRunID), so that shards
	// started apart agree on it. Letters, digits and ._:- only, at most 64.
	ID          string `json:"id"`
	Scenario    string `json:"scenario"`
	Description string `json:"description,omitempty"`
	// Simulated is the date the world simulated (its borders' policies as
	// of then); zero when the run did not set one.
	Simulated time.Time `json:"simulated,omitzero"`
	// Created is when the run was begun.
	Created         time.Time `json:"created"`
	SoftwareName    string    `json:"software_name"`
	SoftwareVersion string    `json:"software_version"`
	// Shards is how many processes measure the run (1 when unsharded).
	Shards int `json:"shards"`
	// Profiles are the censor profiles the borders enforced, with their
	// versions.
	Profiles []Profile         `json:"profiles"`
	Labels   map[string]string `json:"labels,omitempty"`
	// Rules are the rules of those profiles, so that decisions and the
	// explorer can cite each rule's source and year.
	Rules []Rule `json:"-"`
}

// Profile is one censor profile a run's borders enforced.
type Profile struct {
	Name         string `json:"name"`
	Jurisdiction string `json:"jurisdiction"`
	Year         int    `json:"year,omitempty"`
	// Version identifies the profile's text (a digest, a log index).
	Version string `json:"version,omitempty"`
}

// Part is what one process (one shard) contributes to a run.
type Part struct {
	// Shard is this process's index in [0, Run.Shards).
	Shard int `json:"shard"`
	// Scoring marks a process that only scores a run already measured
	// (`splinter score --db`): it writes scores, and the run's status and
	// counts remain its shards'. Its Shard is ignored (stored as -1).
	Scoring bool `json:"scoring,omitempty"`
	// Health is the machine's state when the part began.
	Health Health `json:"health"`
}

// Status is the state of a run or of one part of it.
type Status string

// Statuses.
const (
	Running     Status = "running"
	Complete    Status = "complete"
	Interrupted Status = "interrupted"
	Failed      Status = "failed"
)

// Health is the state of the machine a part ran on: a loaded machine
// measures slower, and the explorer says so beside the results.
type Health struct {
	CPUs       int     `json:"cpus"`
	GOMAXPROCS int     `json:"gomaxprocs"`
	Load1      float64 `json:"load1"`
	Load5      float64 `json:"load5"`
	Load15     float64 `json:"load15"`
	// MemTotal and MemAvailable are in bytes (0 where unknown).
	MemTotal     uint64 `json:"mem_total"`
	MemAvailable uint64 `json:"mem_available"`
	GoVersion    string `json:"go_version"`
	OS           string `json:"os"`
	Arch         string `json:"arch"`
	Hostname     string `json:"hostname,omitempty"`
}

// CurrentHealth reads the machine's state (load and memory from /proc on
// Linux; zero elsewhere).
func CurrentHealth() Health {
	h := Health{CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	h.Hostname, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		if len(f) >= 3 {
			h.Load1, _ = strconv.ParseFloat(f[0], 64)
			h.Load5, _ = strconv.ParseFloat(f[1], 64)
			h.Load15, _ = strconv.ParseFloat(f[2], 64)
		}
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ":")
			if !ok {
				continue
			}
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			switch k {
			case "MemTotal":
				h.MemTotal = kb * 1024
			case "MemAvailable":
				h.MemAvailable = kb * 1024
			}
		}
	}
	return h
}

var runIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// ValidRunID reports whether id can name a run.
func ValidRunID(id string) error {
	if !runIDPattern.MatchString(id) {
		return fmt.Errorf("store: run id %q: want 1 to 64 letters, digits, '.', '_', ':' or '-'", id)
	}
	return nil
}

// NewRunID returns a run ID made of the time and 4 random bytes from rnd
// (crypto/rand's Reader when nil): "20260101T120000Z-1a2b3c4d".
func NewRunID(now time.Time, rnd io.Reader) string {
	if rnd == nil {
		rnd = rand.Reader
	}
	var b [4]byte
	io.ReadFull(rnd, b[:])
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}
