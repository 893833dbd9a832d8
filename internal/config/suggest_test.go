package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestUnknownKeySuggestions: every unknown key is its own problem, named
// with its table (and entry), with the likely key, the table it belongs in,
// or the keys its table has.
func TestUnknownKeySuggestions(t *testing.T) {
	tests := []struct {
		name, old, new string
		want           string // the whole problem, after the file name
	}{
		{"typo", `poll_interval = "2s"`, `poll_intervall = "2s"`, `codepay.poll_intervall: unknown key; did you mean poll_interval?`},
		{"missing letter", `gateway_url =`, `gatway_url =`, `codepay.gatway_url: unknown key; did you mean gateway_url?`},
		{"hyphen and case", `token_file =`, `Token-File =`, `agent.Token-File: unknown key; did you mean token_file?`},
		{"table typo", `[codepay]`, `[codepy]`, `codepy: unknown table; did you mean [codepay]?`},
		{"wrong table", `order_expires = "180s"`, "order_expires = \"180s\"\nlisten = \"127.0.0.1:9000\"", `codepay.listen: unknown key: listen belongs in [agent]`},
		// The key was [qrwallet]'s before it bounded every late check.
		{"late-check window in its old table", `order_expires = "180s"`, "order_expires = \"180s\"\nlate_check_window = \"48h\"",
			`codepay.late_check_window: unknown key: late_check_window belongs in [agent]`},
		{"array of tables", `lane = "1"`, `lanes = "1"`, `terminal[0].lanes: unknown key; did you mean lane?`},
		{"array of tables typo", `[[terminal]]`, `[[terminals]]`, `terminals: unknown table; did you mean [[terminal]]?`},
		{"key above the tables", `[agent]`, "data_dir = \"/var/lib/posbridge\"\n[agent]", `data_dir: unknown key: data_dir belongs in [agent]`},
		{"nothing close", `lane = "1"`, `colour = "red"`, `terminal[0].colour: unknown key; [[terminal]] has: sn, lane, name, currency`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Replace(good, tc.old, tc.new, 1)
			if text == good {
				t.Fatalf("%q is not in the test file", tc.old)
			}
			_, err := Parse(testFile, []byte(text))
			var found bool
			for _, p := range Problems(err) {
				found = found || strings.HasPrefix(p.Error(), testFile+": "+tc.want)
			}
			if !found {
				t.Errorf("Parse problems:\n%v\nwant the problem %q", err, tc.want)
			}
		})
	}
}

// TestUnknownKeysAllReported: several unknown keys and an invalid value
// are all reported in one go; the keys of an unknown table are not
// repeated; a second [[terminal]] entry is named by its index.
func TestUnknownKeysAllReported(t *testing.T) {
	text := strings.NewReplacer(
		`listen = "127.0.0.1:8765"`, `listn = "127.0.0.1:8765"`,
		`app_id = "wz6012822ca2f1as78"`, `app_id = "wz6012822ca2f1as78"`+"\nappid = \"x\"",
		`currency = "USD"`, `currency = "usd"`,
	).Replace(good) + "\n[[terminal]]\nsn = \"T2\"\ncurency = \"EUR\"\n\n[bindoo]\nstore_id = \"1\"\nusername = \"u\"\n"
	_, err := Parse(testFile, []byte(text))
	want := []string{"agent.listn", "codepay.appid", "terminal[1].curency", "bindoo", "terminal[0].currency", "terminal[1].currency"}
	if got := problemFields(t, err); !slices.Equal(got, want) {
		t.Fatalf("fields = %q, want %q\n%v", got, want, err)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
	}
	if !strings.Contains(err.Error(), "bindoo: unknown table; did you mean [bindo]?") {
		t.Errorf("unknown table without suggestion:\n%v", err)
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"sn", "lane", "name", "currency"}
	for key, want := range map[string]string{
		"sm": "sn", "lanes": "lane", "curency": "currency", "CURRENCY": "currency",
		"colour": "", "xy": "", "currencies": "",
	} {
		if got := suggest(key, known); got != want {
			t.Errorf("suggest(%q) = %q, want %q", key, got, want)
		}
	}
	for _, tc := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"abc", "", 3}, {"kitten", "sitting", 3}, {"gatway_url", "gateway_url", 1}, {"ab", "ba", 2}} {
		if got := levenshtein(tc.a, tc.b); got != tc.d {
			t.Errorf("levenshtein(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.d)
		}
	}
}

// TestKnownKeysFollowTheStruct: the suggestions read Config's toml tags,
// so every table's keys are known, the nested ones too.
func TestKnownKeysFollowTheStruct(t *testing.T) {
	for _, path := range []string{"agent.listen", "codepay.gateway_url", "bindo.password_file", "qrwallet.paths.token",
		"idpay.fields.order_no", "log.levels.agent", "journal.keep", "terminal.sn", "ecr.tcp_listen"} {
		if _, ok := typeAt(strings.Split(path, ".")); !ok {
			t.Errorf("typeAt(%s): not a known key", path)
		}
	}
	for _, path := range []string{"agent.nope", "codepay.order_expires.seconds", "nope"} {
		if _, ok := typeAt(strings.Split(path, ".")); ok {
			t.Errorf("typeAt(%s): known, want unknown", path)
		}
	}
	if got := tableOf("tcp_listen"); got != "[[ecr]]" {
		t.Errorf("tableOf(tcp_listen) = %q", got)
	}
}
