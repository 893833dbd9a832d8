package main

import (
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

	"github.com/gorilla/websocket"

	"github.com/posbridge/posbridge/internal/config"
)

// agentFlags are the flags every command that talks to a running agent shares.
type agentFlags struct {
	config *string
	url    *string
	token  *string
	json   *bool
}

func addAgentFlags(fs *flag.FlagSet) agentFlags {
	return agentFlags{
		config: fs.String("config", envOr("POSBRIDGE_CONFIG", defaultConfigPath()), "configuration of the running agent (for its address and token)"),
		url:    fs.String("url", os.Getenv("POSBRIDGE_URL"), "WebSocket URL of the agent (overrides --config)"),
		token:  fs.String("token", os.Getenv("POSBRIDGE_TOKEN"), "bearer token (overrides --config)"),
		json:   fs.Bool("json", false, "print the raw JSON result"),
	}
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
	url, token := *f.url, *f.token
	if url == "" || token == "" {
		cfg, err := config.Load(*f.config)
		switch {
		case err != nil && token != "":
			// A token without a configuration (the demo prints one): the
			// agent's default address, as `posbridge pay` uses.
			cfg = &config.Config{Agent: config.Agent{Listen: config.DefaultListen}}
		case err != nil:
			return nil, fmt.Errorf("%w (or pass --url and --token, or set POSBRIDGE_URL and POSBRIDGE_TOKEN)", err)
		}
		if url == "" {
			url = "ws://" + cfg.Agent.Listen + "/v1/ws"
		}
		if token == "" {
			toks, err := config.ReadTokens(cfg.Agent.TokenFile)
			if err != nil {
				return nil, err
			}
			token = toks[0]
		}
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, resp, err := websocket.DefaultDialer.DialContext(dctx, url, http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusUnauthorized {
			return nil, fmt.Errorf("connect %s: the token was refused (HTTP 401)", url)
		}
		return nil, fmt.Errorf("connect %s: %w (is posbridge running?)", url, err)
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
