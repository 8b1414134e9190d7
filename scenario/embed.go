package scenario

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/splinter-lab/splinter/internal/userfile"
)

// Default is the name of the scenario used when none is given.
const Default = "splinternet"

//go:embed scenarios/*.yaml
var embedded embed.FS

// Names returns the names of the embedded scenarios, sorted.
func Names() []string {
	entries, _ := fs.ReadDir(embedded, "scenarios")
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// Embedded loads and validates the embedded scenario of that name. Its
// positions name the file "scenarios/<name>.yaml".
func Embedded(name string) (*Scenario, error) {
	file := path.Join("scenarios", name+".yaml")
	data, err := embedded.ReadFile(file)
	if err != nil || strings.ContainsAny(name, "/\\") {
		return nil, fmt.Errorf("scenario: no embedded scenario %q (have %s)", name, strings.Join(Names(), ", "))
	}
	return loadValid(file, data)
}

// Open loads and validates a scenario: the embedded one of that name if
// there is one, else the file at that path (read as LoadFile does).
func Open(nameOrPath string) (*Scenario, error) {
	if slices.Contains(Names(), nameOrPath) {
		return Embedded(nameOrPath)
	}
	data, err := userfile.ReadFile(nameOrPath)
	if errors.Is(err, fs.ErrNotExist) && !strings.ContainsAny(nameOrPath, "/\\.") {
		return nil, fmt.Errorf("scenario: %q is neither an embedded scenario (%s) nor a file", nameOrPath, strings.Join(Names(), ", "))
	}
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	return loadValid(nameOrPath, data)
}

func loadValid(name string, data []byte) (*Scenario, error) {
	s, err := Load(name, data)
	if err != nil {
		return nil, err
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}
