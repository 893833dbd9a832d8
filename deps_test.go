package posbridge_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/posbridge/posbridge/"

// TestPackageBoundaries keeps the import directions of design/architecture.md:
// front ends and providers never reach into each other, the journal knows no
// providers, device is a leaf.
func TestPackageBoundaries(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps=false", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	rules := []struct {
		pkg       string   // package prefix (relative to the module)
		forbidden []string // import prefixes it must not use
	}{
		{"ecr", []string{"cloud", "store"}},
		{"cloud", []string{"agent", "store", "ecr", "device"}},
		{"store", []string{"agent", "cloud", "ecr", "device"}},
		{"device", []string{"agent", "cloud", "ecr", "store", "installer"}},
		{"agent/rpc", []string{"agent", "cloud", "store", "ecr", "device"}},
		{"internal/money", []string{"agent", "cloud", "store", "ecr", "device"}},
		{"agent", []string{"installer", "ecr", "cmd"}},
		{"installer", []string{"agent", "cloud", "store", "ecr", "device"}},
		{"internal/logging", []string{"agent", "cloud", "store", "ecr", "device", "installer"}},
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || !strings.HasPrefix(fields[0], module) {
			continue
		}
		pkg := strings.TrimPrefix(fields[0], module)
		for _, r := range rules {
			if !under(pkg, r.pkg) {
				continue
			}
			checked++
			for _, imp := range fields[1:] {
				if !strings.HasPrefix(imp, module) {
					continue
				}
				dep := strings.TrimPrefix(imp, module)
				for _, f := range r.forbidden {
					if under(dep, f) && !under(dep, r.pkg) {
						t.Errorf("%s imports %s: %s must not depend on %s", pkg, dep, r.pkg, f)
					}
				}
			}
		}
	}
	if checked < 4 {
		t.Fatalf("only %d packages checked; go list output changed?", checked)
	}
}

func under(pkg, prefix string) bool { return pkg == prefix || strings.HasPrefix(pkg, prefix+"/") }
