package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/posbridge/posbridge/cloud/codepay/codepaysim"
)

// checkEnv is a good configuration against a running emulator.
type checkEnv struct {
	dir, cfg, simURL string
	keys             *codepaysim.Keys
}

func newCheckEnv(t *testing.T) *checkEnv {
	t.Helper()
	dir := t.TempDir()
	keys, err := codepaysim.EnsureKeys(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	sim, err := codepaysim.New(codepaysim.Config{AppID: "wzcheck000000001", MerchantNo: "302300000001",
		AppPublicKey: keys.AppPublic, GatewayKey: keys.GatewayPrivate, Terminals: []codepaysim.TerminalConfig{{SN: "T1", Online: true}},
		Logger: newLogger(new(bytes.Buffer), false)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	e := &checkEnv{dir: dir, cfg: filepath.Join(dir, "posbridge.toml"), simURL: srv.URL, keys: keys}
	os.WriteFile(filepath.Join(dir, "token"), []byte("check-token-0123456789\n"), 0o600)
	e.write(t, srv.URL, filepath.Join(keys.Dir, "app_private_key.pem"), freePort(t))
	return e
}

func (e *checkEnv) write(t *testing.T, gateway, privKey, listen string) {
	t.Helper()
	cfg := fmt.Sprintf(`
[agent]
listen = %q
data_dir = %q
token_file = %q

[codepay]
gateway_url = %q
app_id = "wzcheck000000001"
merchant_no = "302300000001"
private_key_file = %q
gateway_public_key_file = %q

[[terminal]]
sn = "T1"
currency = "USD"
`, listen, filepath.Join(e.dir, "data"), filepath.Join(e.dir, "token"), gateway, privKey, filepath.Join(e.keys.Dir, "gateway_public_key.pem"))
	if err := os.WriteFile(e.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

func runCheck(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cmdCheck(context.Background(), args, &out, &errb)
	return code, out.String() + errb.String()
}

func TestCheckGoodConfig(t *testing.T) {
	e := newCheckEnv(t)
	code, out := runCheck(t, "--config", e.cfg)
	if code != 0 || !strings.Contains(out, "credentials accepted") || !strings.Contains(out, "all ") {
		t.Fatalf("check = %d\n%s", code, out)
	}
	for _, name := range []string{"config", "token file", "private key", "gateway key", "database", "listen address", "codepay"} {
		if !strings.Contains(out, "ok    "+name) {
			t.Errorf("no ok line for %s:\n%s", name, out)
		}
	}
}

func TestCheckBrokenConfigs(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, e *checkEnv) []string
		want  string
	}{
		{"missing config", func(t *testing.T, e *checkEnv) []string {
			return []string{"--config", filepath.Join(e.dir, "nope.toml")}
		}, "FAIL  config"},
		{"key readable by others", func(t *testing.T, e *checkEnv) []string {
			os.Chmod(filepath.Join(e.keys.Dir, "app_private_key.pem"), 0o644)
			return []string{"--config", e.cfg, "--offline"}
		}, "chmod 600"},
		{"not a key", func(t *testing.T, e *checkEnv) []string {
			p := filepath.Join(e.dir, "bad.pem")
			os.WriteFile(p, []byte("hello"), 0o600)
			e.write(t, e.simURL, p, freePort(t))
			return []string{"--config", e.cfg, "--offline"}
		}, "FAIL  private key"},
		{"wrong key", func(t *testing.T, e *checkEnv) []string {
			other, _ := codepaysim.EnsureKeys(filepath.Join(e.dir, "other"))
			e.write(t, e.simURL, filepath.Join(other.Dir, "app_private_key.pem"), freePort(t))
			return []string{"--config", e.cfg}
		}, "refused the credentials"},
		{"bindo password readable by others", func(t *testing.T, e *checkEnv) []string {
			pw := filepath.Join(e.dir, "bindo_password")
			os.WriteFile(pw, []byte("secret\n"), 0o644)
			f, _ := os.OpenFile(e.cfg, os.O_APPEND|os.O_WRONLY, 0)
			fmt.Fprintf(f, "\n[bindo]\ngateway_url = \"https://stg-payment.bindo.co\"\nlogin_url = \"https://stg.bindo.co\"\nstore_id = \"8527\"\nusername = \"u\"\npassword_file = %q\nclient_id = \"c\"\nclient_secret = \"s\"\n", pw)
			f.Close()
			return []string{"--config", e.cfg, "--offline"}
		}, "FAIL  bindo secrets"},
		{"port in use", func(t *testing.T, e *checkEnv) []string {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			e.write(t, e.simURL, filepath.Join(e.keys.Dir, "app_private_key.pem"), ln.Addr().String())
			return []string{"--config", e.cfg, "--offline"}
		}, "is not free"},
		{"unreachable gateway", func(t *testing.T, e *checkEnv) []string {
			e.write(t, "http://"+freePort(t), filepath.Join(e.keys.Dir, "app_private_key.pem"), freePort(t))
			return []string{"--config", e.cfg}
		}, "could not be reached"},
		{"database from a newer posbridge", func(t *testing.T, e *checkEnv) []string {
			os.MkdirAll(filepath.Join(e.dir, "data"), 0o700)
			db, err := sql.Open("sqlite", filepath.Join(e.dir, "data", "posbridge.db"))
			if err != nil {
				t.Fatal(err)
			}
			db.Exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`)
			if _, err := db.Exec(`INSERT INTO schema_migrations VALUES (999, '0999_future.sql', 1)`); err != nil {
				t.Fatal(err)
			}
			db.Close()
			return []string{"--config", e.cfg, "--offline"}
		}, "newer posbridge"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newCheckEnv(t)
			code, out := runCheck(t, tc.setup(t, e)...)
			if code != exitFailure || !strings.Contains(out, tc.want) {
				t.Fatalf("check = %d, want 1 and %q:\n%s", code, tc.want, out)
			}
		})
	}
}

// TestCheckSkippedIsNotAFailure: --offline skips the CodePay call with its
// reason; the command still passes, and the summary counts it apart.
func TestCheckSkippedIsNotAFailure(t *testing.T) {
	e := newCheckEnv(t)
	code, out := runCheck(t, "--config", e.cfg, "--offline")
	if code != exitOK || !strings.Contains(out, "skip  codepay            skipped: --offline") || !strings.Contains(out, "all 6 checks passed, 1 skipped") {
		t.Fatalf("check --offline = %d, want 0 with a skip line and the summary:\n%s", code, out)
	}
	// Broken keys: the key fails; the CodePay call is skipped, not failed.
	os.WriteFile(filepath.Join(e.dir, "bad.pem"), []byte("hello"), 0o600)
	e.write(t, e.simURL, filepath.Join(e.dir, "bad.pem"), freePort(t))
	code, out = runCheck(t, "--config", e.cfg)
	if code != exitFailure || !strings.Contains(out, "skip  codepay            skipped: the keys above must be fixed first") ||
		strings.Contains(out, "FAIL  codepay") || !strings.Contains(out, "1 of 6 checks failed, 1 skipped") {
		t.Fatalf("check with a broken key = %d:\n%s", code, out)
	}
}

// TestCheckReportsEveryConfigProblem: a file with a typo'd key and bad
// values gets every problem in one run, the typo with a suggestion, and
// the checks that need the configuration are skipped, not failed.
func TestCheckReportsEveryConfigProblem(t *testing.T) {
	e := newCheckEnv(t)
	b, _ := os.ReadFile(e.cfg)
	text := strings.NewReplacer("gateway_url =", "gatway_url =", `currency = "USD"`, `currency = "usd"`).Replace(string(b)) + "\n[log]\nlevel = \"loud\"\n"
	os.WriteFile(e.cfg, []byte(text), 0o600)
	code, out := runCheck(t, "--config", e.cfg)
	for _, want := range []string{
		"FAIL  config             " + e.cfg + ": codepay.gatway_url: unknown key; did you mean gateway_url?",
		"FAIL  config             " + e.cfg + ": codepay.gateway_url: ",
		"FAIL  config             " + e.cfg + ": log.level: ",
		"FAIL  config             " + e.cfg + ": terminal[0].currency: ",
		"skip  token file         skipped: the configuration above must be fixed first",
		"skip  codepay            skipped: the configuration above must be fixed first",
		"4 of 4 checks failed, 6 skipped",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q", want)
		}
	}
	if code != exitFailure {
		t.Errorf("exit %d, want 1", code)
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}
