package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// isolateUserConfig points the user configuration directory (where the demo
// writes its client file) at a new temporary directory, for this process
// and the processes it starts, and clears the client environment.
func isolateUserConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir) // Linux and the other Unixes
	t.Setenv("HOME", dir)            // macOS: ~/Library/Application Support
	t.Setenv("AppData", dir)         // Windows
	for _, k := range []string{"POSBRIDGE_URL", "POSBRIDGE_TOKEN", "POSBRIDGE_CONFIG"} {
		t.Setenv(k, "")
	}
	path, err := clientFilePath()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(path, dir) {
		t.Fatalf("client file %s is not below %s", path, dir)
	}
	return path
}

// targetOf parses a client command's flags and returns where it would connect.
func targetOf(t *testing.T, args ...string) (agentTarget, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	af := addAgentFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return af.target()
}

// agentConfig writes a configuration whose agent listens on listen with
// token, and returns its path.
func agentConfig(t *testing.T, listen, token string) string {
	t.Helper()
	dir := t.TempDir()
	tokFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "posbridge.toml")
	text := fmt.Sprintf("[agent]\nlisten = %q\ndata_dir = %q\ntoken_file = %q\n\n[codepay]\ngateway_url = \"https://codepay-open.codepay.me\"\napp_id = \"wz1\"\nmerchant_no = \"3023\"\nprivate_key_file = \"/k.pem\"\ngateway_public_key_file = \"/g.pem\"\n\n[[terminal]]\nsn = \"T1\"\ncurrency = \"USD\"\n",
		listen, filepath.Join(dir, "data"), tokFile)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestClientTargetPrecedence: flags, then the environment, then a running
// demo's client file, then the configuration; a named configuration wins
// over the demo's file, and a stopped demo's file is only mentioned when
// nothing else works.
func TestClientTargetPrecedence(t *testing.T) {
	isolateUserConfig(t)
	const demoURL, demoTok = "ws://127.0.0.1:18765/v1/ws", "demo-token-0123456789"
	cfg := agentConfig(t, "127.0.0.1:28765", "config-token-0123456789")
	cfgURL, cfgTok := "ws://127.0.0.1:28765/v1/ws", "config-token-0123456789"

	// No demo: the configuration named by --config.
	if got, err := targetOf(t, "--config", cfg); err != nil || got.url != cfgURL || got.token != cfgTok || got.demoFile != "" {
		t.Fatalf("config only: %+v, %v", got, err)
	}
	path, stop, err := writeDemoClient(demoURL, demoTok)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Fatalf("client file %s has mode %v, want 0600", path, fi.Mode().Perm())
	}
	tests := []struct {
		name           string
		env            map[string]string
		args           []string
		url, token     string
		fromDemoFile   bool
		wantErrContain string
	}{
		{name: "demo file", url: demoURL, token: demoTok, fromDemoFile: true},
		{name: "flags win", args: []string{"--url", "ws://flag/v1/ws", "--token", "flag-token-0123456789"}, url: "ws://flag/v1/ws", token: "flag-token-0123456789"},
		{name: "environment wins over the demo", env: map[string]string{"POSBRIDGE_URL": "ws://env/v1/ws", "POSBRIDGE_TOKEN": "env-token-0123456789"}, url: "ws://env/v1/ws", token: "env-token-0123456789"},
		{name: "flag over environment", env: map[string]string{"POSBRIDGE_URL": "ws://env/v1/ws", "POSBRIDGE_TOKEN": "env-token-0123456789"}, args: []string{"--token", "flag-token-0123456789"}, url: "ws://env/v1/ws", token: "flag-token-0123456789"},
		{name: "environment token, demo url", env: map[string]string{"POSBRIDGE_TOKEN": "env-token-0123456789"}, url: demoURL, token: "env-token-0123456789", fromDemoFile: true},
		{name: "--config wins over the demo", args: []string{"--config", cfg}, url: cfgURL, token: cfgTok},
		{name: "POSBRIDGE_CONFIG wins over the demo", env: map[string]string{"POSBRIDGE_CONFIG": cfg}, url: cfgURL, token: cfgTok},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			got, err := targetOf(t, tc.args...)
			if err != nil || got.url != tc.url || got.token != tc.token || (got.demoFile != "") != tc.fromDemoFile {
				t.Fatalf("target = %+v, %v; want %s %s (from the demo file: %v)", got, err, tc.url, tc.token, tc.fromDemoFile)
			}
		})
	}

	// The demo stops: its file no longer counts; the system configuration
	// (here POSBRIDGE_CONFIG's) is used, and without one the error names
	// the stopped demo.
	stop()
	t.Run("stopped demo, configuration", func(t *testing.T) {
		t.Setenv("POSBRIDGE_CONFIG", cfg)
		if got, err := targetOf(t); err != nil || got.url != cfgURL {
			t.Fatalf("target = %+v, %v", got, err)
		}
	})
	t.Run("stopped demo, nothing else", func(t *testing.T) {
		_, err := targetOf(t, "--config", filepath.Join(t.TempDir(), "nope.toml"))
		if err == nil || strings.Contains(err.Error(), "the demo wrote") {
			t.Fatalf("an explicit --config must be the one reported: %v", err)
		}
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		af := addAgentFlags(fs)
		*af.config = filepath.Join(t.TempDir(), "nope.toml") // the system path, not given
		_, err = af.target()
		want := "no posbridge running at " + demoURL + " (the demo wrote " + path + " and stopped at "
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "start the demo again, or pass --url") {
			t.Fatalf("error = %v, want %q", err, want)
		}
	})

	// A second demo took the file over: the first one's stop leaves it.
	_, stop1, _ := writeDemoClient(demoURL, demoTok)
	_, _, _ = writeDemoClient("ws://127.0.0.1:38765/v1/ws", "second-demo-token-0123")
	stop1()
	if got, err := targetOf(t); err != nil || got.url != "ws://127.0.0.1:38765/v1/ws" || got.demoFile == "" {
		t.Fatalf("after the first demo stopped: %+v, %v; want the second demo", got, err)
	}
}

// TestClientCommandsFindTheDemo: next to a running `posbridge demo`,
// `payments list` and `batch show` work without flags or environment, and
// every client command honours POSBRIDGE_URL and POSBRIDGE_TOKEN; once the
// demo stopped they say so, and after a demo was killed they name the file
// it left.
func TestClientCommandsFindTheDemo(t *testing.T) {
	path := isolateUserConfig(t) // inherited by the processes below
	addr := freePort(t)
	demo := start(t, "demo", "demo", "--listen", addr, "--data", filepath.Join(t.TempDir(), "demo"), "--zvt-tcp", "off")
	noteRE := regexp.MustCompile(`find this demo by themselves \((.+)\):`)
	var note string
	deadline := time.Now().Add(30 * time.Second)
	for note == "" && time.Now().Before(deadline) && demo.stdout.Scan() {
		if m := noteRE.FindStringSubmatch(demo.stdout.Text()); m != nil {
			note = m[1]
		}
	}
	go func() {
		for demo.stdout.Scan() {
		}
	}()
	if note != path {
		t.Fatalf("the banner names the client file %q, want %q", note, path)
	}
	cli := func(args ...string) (int, string) { t.Helper(); return runCLI(t, nil, args...) }
	if code, out := cli("payments", "list"); code != exitOK || !strings.Contains(out, "ORDER") {
		t.Fatalf("payments list next to the demo: exit %d\n%s", code, out)
	}
	if code, out := cli("batch", "show"); code != exitOK || !strings.Contains(out, "Terminal DEMO000001") || !strings.Contains(out, "Terminal DEMO000002") {
		t.Fatalf("batch show next to the demo: exit %d\n%s", code, out)
	}
	// pay too finds the demo, and a void needs only the original.
	if code, out := cli("pay", "--amount", "2.00", "--order", "CLIPAY1", "--timeout", "60s"); code != exitOK || !strings.Contains(out, "approved") {
		t.Fatalf("pay next to the demo: exit %d\n%s", code, out)
	}
	if code, out := cli("pay", "--type", "void", "--orig", "CLIPAY1", "--order", "CLIPAY1V", "--timeout", "60s"); code != exitOK || !strings.Contains(out, "approved") {
		t.Fatalf("void by its original only: exit %d\n%s", code, out)
	}
	// The sale's history: accepted from the CLI, approved on the terminal.
	if code, out := cli("payments", "history", "CLIPAY1"); code != exitOK || !strings.HasPrefix(out, "History of CLIPAY1, oldest first") ||
		!regexp.MustCompile(`created\s+queued\s+accepted from cli`).MatchString(out) || !regexp.MustCompile(`on_terminal → approved`).MatchString(out) {
		t.Fatalf("payments history next to the demo: exit %d\n%s", code, out)
	}
	if code, out := cli("payments", "history", "CLIPAY1", "--json"); code != exitOK || !strings.Contains(out, `"kind": "created"`) {
		t.Fatalf("payments history --json: exit %d\n%s", code, out)
	}
	// Every client command honours POSBRIDGE_URL and POSBRIDGE_TOKEN, over
	// the demo's file: a wrong token in the environment is the one sent.
	env := []string{"POSBRIDGE_URL=ws://" + addr + "/v1/ws", "POSBRIDGE_TOKEN=wrong-token-0123456789"}
	for _, args := range [][]string{{"payments", "list"}, {"payments", "show", "NOPE1"}, {"payments", "history", "NOPE1"}, {"payments", "cancel", "NOPE1"},
		{"batch", "show"}, {"batch", "close", "--terminal", "DEMO000001"}, {"pay", "--amount", "1.00"}} {
		if code, out := runCLI(t, env, args...); code != exitFailure || !strings.Contains(out, "401") {
			t.Errorf("%v with a wrong POSBRIDGE_TOKEN: exit %d, want 1 and HTTP 401:\n%s", args, code, out)
		}
	}

	demo.interrupt(t, "demo")
	wsURL := "ws://" + addr + "/v1/ws"
	code, out := cli("payments", "list")
	if want := "no posbridge running at " + wsURL + " (the demo wrote " + path + " and stopped at "; code != exitFailure || !strings.Contains(out, want) {
		t.Fatalf("payments list after the demo stopped: exit %d\n%s\nwant exit 1 and %q", code, out, want)
	}

	// A demo killed before it could mark the file: the connection fails
	// and the message names the file.
	if _, _, err := writeDemoClient(wsURL, "killed-demo-token-0123"); err != nil {
		t.Fatal(err)
	}
	code, out = cli("batch", "show")
	if want := "no posbridge running at " + wsURL + " (the demo wrote " + path + "; start the demo or pass --url)"; code != exitFailure || !strings.Contains(out, want) {
		t.Fatalf("batch show after the demo was killed: exit %d\n%s\nwant exit 1 and %q", code, out, want)
	}
}

// runCLI runs the posbridge binary with env added to this process's
// environment and returns its exit status and combined output.
func runCLI(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String()
	case err != nil:
		t.Fatal(err)
	}
	return 0, out.String()
}
