package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const good = `
[agent]
listen = "127.0.0.1:8765"
data_dir = "/var/lib/posbridge"
token_file = "/etc/posbridge/token"
allowed_origins = ["http://localhost:3000"]

[codepay]
gateway_url = "https://codepay-open.codepay.me"
app_id = "wz6012822ca2f1as78"
merchant_no = "302300000926"
store_no = "4023000001"
private_key_file = "/etc/posbridge/app_private_key.pem"
gateway_public_key_file = "/etc/posbridge/gateway_public_key.pem"
order_expires = "180s"
poll_interval = "2s"

[[terminal]]
sn = "WPYB002248000865"
lane = "1"
name = "Front counter"
currency = "USD"

[[ecr]]
protocol = "zvt"
serial = "/dev/ttyUSB0"
baud = 9600
stop_bits = 2
terminal_sn = "WPYB002248000865"
`

func TestParseGood(t *testing.T) {
	c, err := Parse("/etc/posbridge/config.toml", []byte(good))
	if err != nil {
		t.Fatalf("Parse(good) error = %v", err)
	}
	if c.CodePay.OrderExpires.Duration != 180*time.Second || c.CodePay.PollInterval.Duration != 2*time.Second ||
		c.CodePay.QueueTimeout.Duration != 10*time.Minute || c.CodePay.CreateSettle.Duration != 5*time.Second {
		t.Errorf("durations = %v, %v", c.CodePay.OrderExpires, c.CodePay.PollInterval)
	}
	if c.Fallback.Mode != "never" {
		t.Errorf("fallback mode without [bindo] = %q, want never", c.Fallback.Mode)
	}
	if e := c.ECRs[0]; e.DataBits != 8 || e.Parity != "none" || e.StopBits != 2 {
		t.Errorf("ecr defaults = %+v", e)
	}
}

func TestParseBad(t *testing.T) {
	tests := []struct {
		name, old, new, field string
	}{
		{"unknown key", `poll_interval = "2s"`, "poll_interval = \"2s\"\npoll_intervall = \"3s\"", "codepay.poll_intervall"},
		{"remote listen", `listen = "127.0.0.1:8765"`, `listen = "0.0.0.0:8765"`, "agent.listen"},
		{"relative data dir", `data_dir = "/var/lib/posbridge"`, `data_dir = "data"`, "agent.data_dir"},
		{"http gateway", `https://codepay-open.codepay.me`, `http://codepay-open.codepay.me`, "codepay.gateway_url"},
		{"long app id", `app_id = "wz6012822ca2f1as78"`, `app_id = "wz6012822ca2f1as78wz6012822ca2f1as78"`, "codepay.app_id"},
		{"bad duration", `order_expires = "180s"`, `order_expires = "soon"`, "order_expires"},
		{"fractional expires", `order_expires = "180s"`, `order_expires = "10500ms"`, "codepay.order_expires"},
		{"bad currency", `currency = "USD"`, `currency = "usd"`, "terminal[0].currency"},
		{"ecr unknown terminal", `terminal_sn = "WPYB002248000865"`, `terminal_sn = "NOPE"`, "ecr[0].terminal_sn"},
		{"bad origin", `["http://localhost:3000"]`, `["localhost:3000/x"]`, "agent.allowed_origins[0]"},
		{"no key", `private_key_file = "/etc/posbridge/app_private_key.pem"`, ``, "codepay.private_key_file"},
		{"short queue timeout", `poll_interval = "2s"`, "poll_interval = \"2s\"\nqueue_timeout = \"5s\"", "codepay.queue_timeout"},
		{"long create settle", `poll_interval = "2s"`, "poll_interval = \"2s\"\ncreate_settle = \"5m\"", "codepay.create_settle"},
		{"empty not-found code", `poll_interval = "2s"`, "poll_interval = \"2s\"\norder_not_found_codes = [\"40005\", \"\"]", "codepay.order_not_found_codes[1]"},
		{"tab in terminal name", `name = "Front counter"`, `name = "Front\tcounter"`, "terminal[0].name: contains a control character (U+0009) at byte 5"},
		{"newline in lane", `lane = "1"`, `lane = "1\n"`, "terminal[0].lane: contains a control character (U+000A) at byte 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Replace(good, tc.old, tc.new, 1)
			if text == good {
				t.Fatalf("replacement %q not found", tc.old)
			}
			_, err := Parse("/etc/posbridge/config.toml", []byte(text))
			if err == nil {
				t.Fatalf("Parse() = nil error, want one naming %s", tc.field)
			}
			if !strings.Contains(err.Error(), tc.field) || !strings.Contains(err.Error(), "/etc/posbridge/config.toml") {
				t.Errorf("Parse() error = %q, want it to name %s and the file", err, tc.field)
			}
		})
	}
}

func TestHTTPLoopbackAllowed(t *testing.T) {
	text := strings.Replace(good, `https://codepay-open.codepay.me`, `http://127.0.0.1:9999`, 1)
	if _, err := Parse("c.toml", []byte(text)); err != nil {
		t.Fatalf("loopback http refused: %v", err)
	}
}

func TestReadTokens(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "token")
	os.WriteFile(p, []byte("# comment\n\nabcdefghijklmnopqrstuvwxyz\n"), 0o600)
	toks, err := ReadTokens(p)
	if err != nil || len(toks) != 1 || toks[0] != "abcdefghijklmnopqrstuvwxyz" {
		t.Fatalf("ReadTokens = %v, %v", toks, err)
	}
	os.WriteFile(p, []byte("short\n"), 0o600)
	if _, err := ReadTokens(p); err == nil {
		t.Fatal("short token accepted")
	}
	if _, err := Load(filepath.Join(dir, "missing.toml")); err == nil || errors.Is(err, ErrInvalid) {
		t.Fatalf("Load(missing) = %v, want a read error", err)
	}
}

func TestBindoTable(t *testing.T) {
	withBindo := good + `
[bindo]
gateway_url = "https://stg-payment.bindo.co"
login_url = "https://stg.bindo.co"
store_id = "8527"
username = "pos@store"
password_file = "/etc/posbridge/bindo_password"
client_id = "cid"
client_secret = "csecret"

[fallback]
offline_grace = "45s"
`
	c, err := Parse("c.toml", []byte(withBindo))
	if err != nil {
		t.Fatalf("Parse(with bindo) = %v", err)
	}
	if c.Fallback.Mode != "auto" || c.Fallback.OfflineGrace.Duration != 45*time.Second {
		t.Errorf("fallback = %+v", c.Fallback)
	}
	for old, field := range map[string]string{
		`gateway_url = "https://stg-payment.bindo.co"`: "bindo.gateway_url",
		`store_id = "8527"`:                            "bindo.store_id",
		`offline_grace = "45s"`:                        "fallback.offline_grace",
	} {
		repl := ""
		if field == "fallback.offline_grace" {
			repl = `offline_grace = "1ms"`
		} else if field == "bindo.gateway_url" {
			repl = `gateway_url = "http://stg-payment.bindo.co"`
		}
		_, err := Parse("c.toml", []byte(strings.Replace(withBindo, old, repl, 1)))
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("without %s: error = %v", field, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(good)
	f.Add("[agent]\nlisten = 1\n")
	f.Add("[[terminal]]\nsn = \"\"\n")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := Parse("/f.toml", []byte(text))
		if err == nil && (c.Agent.Listen == "" || len(c.Terminals) == 0) {
			t.Fatalf("accepted a config without listen or terminals: %+v", c)
		}
	})
}

func TestJournalKeep(t *testing.T) {
	c, err := Parse("c.toml", []byte(good))
	if err != nil || c.Journal.Keep.Duration != 0 {
		t.Fatalf("Parse(good) journal.keep = %v, %v; want 0 (keep everything)", c.Journal.Keep, err)
	}
	valid := []struct {
		text string
		want time.Duration
	}{
		{`"400d"`, 400 * Day},
		{`"30d"`, 30 * Day},
		{`"9600h"`, 400 * Day},
		{`"36500d"`, 36500 * Day},
	}
	for _, tc := range valid {
		c, err := Parse("c.toml", []byte(good+"\n[journal]\nkeep = "+tc.text+"\n"))
		if err != nil || c.Journal.Keep.Duration != tc.want {
			t.Errorf("keep = %s: %v, %v; want %v", tc.text, c0(c).Journal.Keep, err, tc.want)
		}
	}
	for _, text := range []string{`"29d"`, `"1h"`, `"-5d"`, `"400"`, `"4OOd"`, `"36501d"`, `"1.5d"`, `400`} {
		_, err := Parse("/etc/posbridge/config.toml", []byte(good+"\n[journal]\nkeep = "+text+"\n"))
		if err == nil || !strings.Contains(err.Error(), "keep") || !strings.Contains(err.Error(), "/etc/posbridge/config.toml") {
			t.Errorf("keep = %s: error %v, want one naming journal.keep and the file", text, err)
		}
	}
	if b, _ := (Days{400 * Day}).MarshalText(); string(b) != "400d" {
		t.Errorf("MarshalText(400d) = %s", b)
	}
	if _, err := Parse("c.toml", []byte(good+"\n[journal]\nkeeps = \"400d\"\n")); err == nil || !strings.Contains(err.Error(), "journal.keeps") {
		t.Errorf("unknown key journal.keeps: %v", err)
	}
}

func c0(c *Config) *Config {
	if c == nil {
		return &Config{}
	}
	return c
}
