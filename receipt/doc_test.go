package receipt

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// docPath is the page whose examples are the golden receipts.
const docPath = "../docs/receipts.md"

// docExample is an example block of docs/receipts.md: a marker naming the
// golden file, then a fenced block with its text.
var docExample = regexp.MustCompile("(?s)<!-- receipt: ([a-z0-9-]+) -->\n```text\n(.*?)```\n")

// TestDocExamples: every example receipt in docs/receipts.md is one of the
// golden receipts of testdata/, as it is; with -update they are rewritten
// from the goldens. Each kind is shown at 32 and 40 columns.
func TestDocExamples(t *testing.T) {
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	out := docExample.ReplaceAllStringFunc(string(doc), func(block string) string {
		m := docExample.FindStringSubmatch(block)
		name := m[1]
		seen[name] = true
		want, err := os.ReadFile(filepath.Join("testdata", name+".txt"))
		if err != nil {
			t.Errorf("docs/receipts.md shows %s, which has no golden: %v", name, err)
			return block
		}
		if m[2] != string(want) {
			if !*update {
				t.Errorf("docs/receipts.md's %s differs from testdata/%s.txt (go test ./receipt -update):\n%s\nwant:\n%s", name, name, m[2], want)
			}
			return "<!-- receipt: " + name + " -->\n```text\n" + string(want) + "```\n"
		}
		return block
	})
	for _, kind := range []string{"card-sale", "card-declined", "card-refund", "qr-sale", "link-sale"} {
		for _, w := range []string{"32", "40"} {
			if !seen[kind+"-"+w] {
				t.Errorf("docs/receipts.md has no example %s-%s", kind, w)
			}
		}
	}
	if *update && out != string(doc) {
		if err := os.WriteFile(docPath, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
