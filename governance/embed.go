package governance

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
)

//go:embed scenarios/*.yaml
var embedded embed.FS

// Names returns the names of the embedded governance scenarios, sorted.
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

// Open loads and validates the embedded scenario of that name, or else the
// file at that path.
func Open(nameOrPath string) (*File, error) {
	if slices.Contains(Names(), nameOrPath) {
		file := path.Join("scenarios", nameOrPath+".yaml")
		data, err := embedded.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("governance: %w", err)
		}
		return Load(file, data)
	}
	data, err := os.ReadFile(nameOrPath)
	if errors.Is(err, fs.ErrNotExist) && !strings.ContainsAny(nameOrPath, "/\\.") {
		return nil, fmt.Errorf("governance: %q is neither an embedded scenario (%s) nor a file", nameOrPath, strings.Join(Names(), ", "))
	}
	if err != nil {
		return nil, fmt.Errorf("governance: %w", err)
	}
	return Load(nameOrPath, data)
}
