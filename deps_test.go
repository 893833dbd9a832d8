package posbridge_test

import (
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/posbridge/posbridge/"

// deps are the import rules of docs/architecture.md, in the style of
// tailscale's deptest: for a package (and everything below it), the
// posbridge packages it must not import, each with the reason. A rule names
// a package prefix; a package may always import below itself.
var deps = []struct {
	pkg       string
	forbidden map[string]string
}{
	{"money", map[string]string{
		"": "money is the bottom layer every other package uses; it imports no posbridge package",
	}},
	{"pan", map[string]string{
		"": "pan (masking, Luhn, BIN) is a bottom-layer helper; it imports no posbridge package",
	}},
	{"receipt", map[string]string{
		"agent":    "a receipt is laid out from plain fields; the agent builds it, the front ends print it",
		"api":      "a receipt knows no front end",
		"ecr":      "a receipt knows no front end",
		"cloud":    "a receipt knows no provider: the agent maps provider answers into it",
		"store":    "a receipt is built from journal rows by the agent, not read by itself",
		"device":   "a receipt never sees card data beyond the masked PAN",
		"internal": "a receipt is a bottom-layer layout helper",
	}},
	{"device", map[string]string{
		"agent":     "device reads cards; it is a leaf the agent and the front ends use, never the reverse",
		"api":       "device is a leaf",
		"ecr":       "device is a leaf",
		"cloud":     "device is a leaf: building provider requests from card data is the agent's job",
		"store":     "device is a leaf: card data never reaches the journal",
		"installer": "device is a leaf",
	}},
	{"store", map[string]string{
		"agent":     "the journal sits below the agent, which hands it plain rows",
		"api":       "the journal knows no front end",
		"ecr":       "the journal knows no front end",
		"cloud":     "the journal knows no provider: provider answers are mapped by the agent",
		"device":    "card data never reaches the journal",
		"installer": "the journal knows nothing of the service install",
	}},
	{"cloud", map[string]string{
		"agent":     "a provider client speaks only its provider's wire; the agent maps it",
		"api":       "providers do not know the front ends",
		"ecr":       "providers do not know the front ends",
		"store":     "providers do not write the journal; the agent does, before every call",
		"device":    "providers receive card data from the agent, not from readers",
		"installer": "providers know nothing of the service install",
	}},
	{"agent", map[string]string{
		"api":       "the core does not know its front ends; they call it and subscribe to its events",
		"ecr":       "the core does not know its front ends; they call it and subscribe to its events",
		"installer": "the core runs the same however it is installed",
		"cmd":       "nothing imports a main package",
	}},
	{"api/rpc", map[string]string{
		"agent":  "the JSON-RPC transport is pure: methods are plugged in by api/wsapi",
		"api":    "the transport is below the methods, the console and the server",
		"cloud":  "the transport knows no provider",
		"store":  "the transport knows no journal",
		"ecr":    "the transport knows no other front end",
		"device": "the transport knows no card reader",
	}},
	{"api", map[string]string{
		"ecr":                        "front ends never reach into each other; both go through the agent",
		"store":                      "front ends reach the journal only through the agent",
		"installer":                  "front ends run the same however the service is installed",
		"cloud/codepay/codepaysim":   "emulators are for tests, the demo and `posbridge sim` only",
		"cloud/bindo/bindosim":       "emulators are for tests, the demo and `posbridge sim` only",
		"cloud/qrwallet/qrwalletsim": "emulators are for tests, the demo and `posbridge sim` only",
		"cloud/idpay/idpaysim":       "emulators are for tests, the demo and `posbridge sim` only",
	}},
	{"internal/secretfile", map[string]string{
		"": "the one secret-file permission check is a bottom-layer helper; it imports no posbridge package",
	}},
	{"ecr", map[string]string{
		"api":       "front ends never reach into each other; both go through the agent",
		"cloud":     "the ECR side never calls a provider; the agent does",
		"store":     "the ECR side reaches the journal only through the agent",
		"installer": "the ECR side runs the same however the service is installed",
	}},
	{"ecr/zvt", map[string]string{
		"agent":  "the ZVT codec is pure bytes and framing, usable without the agent",
		"ecr/pt": "the codec sits below the terminal behaviour built on it",
		"device": "the codec carries card data as bytes; reading it is device's job",
	}},
	{"installer", map[string]string{
		"agent":  "the installer writes service definitions; it knows nothing of payments",
		"api":    "the installer knows nothing of payments",
		"cloud":  "the installer knows nothing of payments",
		"store":  "the installer knows nothing of payments",
		"ecr":    "the installer knows nothing of payments",
		"device": "the installer knows nothing of payments",
	}},
	{"internal", map[string]string{
		"agent":     "internal helpers sit below the layers that use them",
		"api":       "internal helpers sit below the layers that use them",
		"ecr":       "internal helpers sit below the layers that use them",
		"cloud":     "internal helpers sit below the layers that use them",
		"installer": "internal helpers sit below the layers that use them",
	}},
	{"internal/logging", map[string]string{
		"store":  "logging is used by every layer, so it imports none",
		"device": "logging is used by every layer, so it imports none",
	}},
}

// TestPackageBoundaries checks every package's (non-test) imports against
// deps.
func TestPackageBoundaries(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps=false", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	checked := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || !strings.HasPrefix(fields[0], module) {
			continue
		}
		pkg := strings.TrimPrefix(fields[0], module)
		for _, r := range deps {
			if !under(pkg, r.pkg) {
				continue
			}
			checked[r.pkg] = true
			for _, imp := range fields[1:] {
				dep, ok := strings.CutPrefix(imp, module)
				if !ok || under(dep, r.pkg) {
					continue
				}
				for f, reason := range r.forbidden {
					if f == "" || under(dep, f) {
						t.Errorf("%s imports %s: %s", pkg, dep, reason)
					}
				}
			}
		}
	}
	for _, r := range deps {
		if !checked[r.pkg] && r.pkg != "pan" {
			t.Errorf("rule for %s matched no package: the layout changed; update deps and docs/architecture.md", r.pkg)
		}
	}
}

// TestSerialConfined keeps go.bug.st/serial inside ecr/zvt's serial
// transport, so the ZVT codec stays pure and testable without ports.
func TestSerialConfined(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("ecr", "zvt", "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no ecr/zvt files: %v", err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(path, "go.bug.st/serial") && filepath.Base(name) != "serial.go" {
				t.Errorf("%s imports %s: only serial.go may touch serial ports", name, path)
			}
		}
	}
}

func under(pkg, prefix string) bool { return pkg == prefix || strings.HasPrefix(pkg, prefix+"/") }
