package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/gorilla/websocket"

	"github.com/posbridge/posbridge/internal/config"
)

// agentFlags are the flags every command that talks to a running agent
// shares. Where the agent is, first found first (docs/cli.md): --url and
// --token; POSBRIDGE_URL and POSBRIDGE_TOKEN; the demo's client file
// (clientFilePath, while a demo runs); the configuration (--config,
// POSBRIDGE_CONFIG, else the system's).
type agentFlags struct {
	fs     *flag.FlagSet
	config *string
	url    *string
	token  *string
	json   *bool
}

func addAgentFlags(fs *flag.FlagSet) agentFlags {
	return agentFlags{
		fs:     fs,
		config: fs.String("config", envOr("POSBRIDGE_CONFIG", defaultConfigPath()), "configuration of the running agent, for its address and token (env POSBRIDGE_CONFIG)"),
		url:    fs.String("url", os.Getenv("POSBRIDGE_URL"), "WebSocket URL of the agent (env POSBRIDGE_URL; overrides the demo's client file and --config)"),
		token:  fs.String("token", os.Getenv("POSBRIDGE_TOKEN"), "bearer token (env POSBRIDGE_TOKEN; overrides the demo's client file and --config)"),
		json:   fs.Bool("json", false, "print the raw JSON result"),
	}
}

// configGiven reports whether a configuration was named (--config or
// POSBRIDGE_CONFIG): it then wins over the demo's client file.
func (f agentFlags) configGiven() bool {
	given := os.Getenv("POSBRIDGE_CONFIG") != ""
	f.fs.Visit(func(fl *flag.Flag) { given = given || fl.Name == "config" })
	return given
}

// agentTarget is where a client command connects.
type agentTarget struct {
	url, token string
	// demoFile is the demo's client file when url or token came from it.
	demoFile string
}

// target finds the agent's URL and token (see agentFlags).
func (f agentFlags) target() (agentTarget, error) {
	t := agentTarget{url: *f.url, token: *f.token}
	if t.url != "" && t.token != "" {
		return t, nil
	}
	var stopped *demoClient // a demo that wrote the client file and has stopped
	if !f.configGiven() {
		dc, path, err := readDemoClient()
		switch {
		case err == nil && dc.Stopped == "":
			t.demoFile = path
			if t.url == "" {
				t.url = dc.URL
			}
			if t.token == "" {
				t.token = dc.Token
			}
			return t, nil
		case err == nil:
			stopped = dc
			stopped.path = path
		case !errors.Is(err, os.ErrNotExist):
			return t, err
		}
	}
	cfg, err := config.Load(*f.config)
	switch {
	case err != nil && stopped != nil:
		return t, fmt.Errorf("no posbridge running at %s (the demo wrote %s and stopped at %s; start the demo again, or pass --url and --token)", stopped.URL, stopped.path, stopped.Stopped)
	case err != nil && t.token != "":
		// A token without a configuration (the demo prints one): the
		// agent's default address, as `posbridge pay` uses.
		cfg = &config.Config{Agent: config.Agent{Listen: config.DefaultListen}}
	case err != nil:
		return t, fmt.Errorf("%w (or pass --url and --token, or set POSBRIDGE_URL and POSBRIDGE_TOKEN, or start `posbridge demo`)", err)
	}
	if t.url == "" {
		t.url = "ws://" + cfg.Agent.Listen + "/v1/ws"
	}
	if t.token == "" {
		toks, err := config.ReadTokens(cfg.Agent.TokenFile)
		if err != nil {
			return t, err
		}
		t.token = toks[0]
	}
	return t, nil
}

// The demo's client file. `posbridge demo` writes the URL and token of its
// agent to clientFilePath (mode 0600) while it runs and marks the file
// stopped when it ends, so that client commands in another terminal find
// the demo without flags (agentFlags.target).

// demoClient is the content of the client file.
type demoClient struct {
	URL     string `toml:"url"`
	Token   string `toml:"token"`
	PID     int    `toml:"pid"`
	Started string `toml:"started"`
	// Stopped is when the demo ended ("" while it runs).
	Stopped string `toml:"stopped,omitempty"`

	path string
}

// clientFilePath is the demo's client file: posbridge/client.toml in the
// user's configuration directory (Linux ~/.config, macOS ~/Library/Application
// Support, Windows %AppData%).
func clientFilePath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("demo client file: %w", err)
	}
	return filepath.Join(dir, "posbridge", "client.toml"), nil
}

// readDemoClient reads the client file; an error wrapping os.ErrNotExist
// when there is none.
func readDemoClient() (*demoClient, string, error) {
	path, err := clientFilePath()
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", os.ErrNotExist, err)
	}
	var dc demoClient
	if _, err := toml.DecodeFile(path, &dc); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, path, err
		}
		return nil, path, fmt.Errorf("read the demo's client file %s: %w (delete it, or pass --url and --token)", path, err)
	}
	if dc.URL == "" || dc.Token == "" {
		return nil, path, fmt.Errorf("the demo's client file %s has no url or token (delete it, or pass --url and --token)", path)
	}
	return &dc, path, nil
}

// writeDemoClient writes the client file for a demo at url with token
// (0600, atomically) and returns its path and the function that marks it
// stopped; the demo calls that when it ends. It leaves alone a file that
// another demo has written since.
func writeDemoClient(url, token string) (path string, stop func(), err error) {
	path, err = clientFilePath()
	if err != nil {
		return "", nil, err
	}
	dc := demoClient{URL: url, Token: token, PID: os.Getpid(), Started: time.Now().Format(time.RFC3339)}
	if err := writeClientFile(path, dc); err != nil {
		return "", nil, err
	}
	return path, func() {
		cur, _, err := readDemoClient()
		if err != nil || cur.PID != dc.PID || cur.Token != dc.Token || cur.URL != dc.URL {
			return // another demo's now
		}
		dc.Stopped = time.Now().Format(time.RFC3339)
		_ = writeClientFile(path, dc)
	}, nil
}

// writeClientFile writes dc to path through a temporary file in the same
// directory (0600), so a reader never sees half a file.
func writeClientFile(path string, dc demoClient) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("demo client file: %w", err)
	}
	var b bytes.Buffer
	b.WriteString("# Written by `posbridge demo`: the client commands (posbridge batch, payments) connect\n" +
		"# here when no --url/--token, POSBRIDGE_URL/POSBRIDGE_TOKEN or --config is given (docs/cli.md).\n")
	if err := toml.NewEncoder(&b).Encode(dc); err != nil {
		return fmt.Errorf("demo client file: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".client-*.toml")
	if err != nil {
		return fmt.Errorf("demo client file: %w", err)
	}
	defer os.Remove(f.Name()) // after a successful rename: nothing
	if err := f.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		f.Close()
		return fmt.Errorf("demo client file: %w", err)
	}
	if _, err := f.Write(b.Bytes()); err != nil {
		f.Close()
		return fmt.Errorf("demo client file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("demo client file: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("demo client file: %w", err)
	}
	return nil
}

func defaultConfigPath() string {
	if runtime.GOOS == "windows" {
		return filepath.Join(envOr("ProgramData", `C:\ProgramData`), "posbridge", "posbridge.toml")
	}
	return "/etc/posbridge/posbridge.toml"
}

// rpcClient is a minimal JSON-RPC client over the agent's WebSocket.
type rpcClient struct {
	conn *websocket.Conn
	id   int
}

// rpcError is an error answer of the agent.
type rpcError struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

func (e *rpcError) Error() string { return e.Message }

func (f agentFlags) dial(ctx context.Context) (*rpcClient, error) {
	t, err := f.target()
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, resp, err := websocket.DefaultDialer.DialContext(dctx, t.url, http.Header{"Authorization": {"Bearer " + t.token}})
	if err != nil {
		switch {
		case t.demoFile != "" && resp != nil && resp.StatusCode == http.StatusUnauthorized:
			return nil, fmt.Errorf("connect %s: the token from %s was refused (HTTP 401): the demo that wrote the file is not the posbridge running there; start the demo again, or pass --url and --token", t.url, t.demoFile)
		case resp != nil && resp.StatusCode == http.StatusUnauthorized:
			return nil, fmt.Errorf("connect %s: the token was refused (HTTP 401)", t.url)
		case t.demoFile != "" && resp == nil:
			return nil, fmt.Errorf("no posbridge running at %s (the demo wrote %s; start the demo or pass --url): %w", t.url, t.demoFile, err)
		}
		return nil, fmt.Errorf("connect %s: %w (is posbridge running?)", t.url, err)
	}
	go func() { <-ctx.Done(); conn.Close() }()
	return &rpcClient{conn: conn}, nil
}

func (c *rpcClient) close() { c.conn.Close() }

// call sends one request and returns its result, skipping notifications.
func (c *rpcClient) call(method string, params any) (json.RawMessage, error) {
	c.id++
	if err := c.conn.WriteJSON(map[string]any{"jsonrpc": "2.0", "id": c.id, "method": method, "params": params}); err != nil {
		return nil, fmt.Errorf("send %s: %w", method, err)
	}
	for {
		c.conn.SetReadDeadline(time.Now().Add(60 * time.Second))
		var m struct {
			ID     *int            `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *rpcError       `json:"error"`
		}
		if err := c.conn.ReadJSON(&m); err != nil {
			return nil, fmt.Errorf("read %s answer: %w", method, err)
		}
		if m.ID == nil || *m.ID != c.id {
			continue
		}
		if m.Error != nil {
			return nil, m.Error
		}
		return m.Result, nil
	}
}

// cliError prints err as one sentence and returns the exit code.
func cliError(stderr interface{ Write([]byte) (int, error) }, cmd string, err error) int {
	var re *rpcError
	if errors.As(err, &re) {
		field := ""
		var d struct {
			Field string `json:"field"`
		}
		if json.Unmarshal(re.Data, &d) == nil && d.Field != "" && !strings.HasPrefix(re.Message, d.Field+": ") {
			field = " (field " + d.Field + ")"
		}
		fmt.Fprintf(stderr, "posbridge %s: %s%s\n", cmd, re.Message, field)
		return exitFailure
	}
	fmt.Fprintf(stderr, "posbridge %s: %v\n", cmd, err)
	return exitFailure
}
