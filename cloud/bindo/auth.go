package bindo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/posbridge/posbridge/cloud/internal/httpx"
)

// maxLoginResponseBytes bounds the login response body.
const maxLoginResponseBytes = 1 << 20

var (
	// ErrAuth means the gateway refused our credentials: the login endpoint
	// rejected them, or a request was still refused with HTTP 401 after one
	// fresh login. Errors of this class also match ErrNotSent.
	ErrAuth = errors.New("bindo authentication failed")
	// ErrNoToken may be returned by TokenStore.LoadToken when no token is
	// stored (returning "" with a nil error means the same).
	ErrNoToken = errors.New("no bindo access token stored")
)

// authError is a refusal of our credentials; it matches ErrAuth and ErrNotSent.
type authError struct{ reason string }

func (e *authError) Error() string { return "bindo authentication failed: " + e.reason }

func (e *authError) Unwrap() []error { return []error{ErrAuth, ErrNotSent} }

// accessToken returns the token to send: the one in memory, else the one in
// the TokenStore, else a fresh login. Loading and logging in happen under
// loginSem, so concurrent first calls make at most one login.
func (c *Client) accessToken(ctx context.Context) (string, error) {
	c.mu.Lock()
	tok := c.token
	c.mu.Unlock()
	if tok != "" {
		return tok, nil
	}
	if err := c.acquire(ctx); err != nil {
		return "", err
	}
	defer c.release()
	c.mu.Lock()
	tok, loaded := c.token, c.loaded
	c.mu.Unlock()
	if tok != "" {
		return tok, nil // another goroutine loaded or logged in meanwhile
	}
	if !loaded && c.tokens != nil {
		stored, err := c.tokens.LoadToken(ctx)
		switch {
		case errors.Is(err, ErrNoToken):
		case err != nil:
			return "", fmt.Errorf("load stored access token: %w", err)
		case stored != "":
			c.mu.Lock()
			c.token, c.loaded = stored, true
			c.mu.Unlock()
			c.log.Debug("bindo access token loaded from store")
			return stored, nil
		}
	}
	c.mu.Lock()
	c.loaded = true
	c.mu.Unlock()
	return c.loginLocked(ctx, "no stored token")
}

// renewToken is called after a request sent with stale was refused with
// HTTP 401. If another goroutine has already replaced stale, its token is
// returned without a login; otherwise this goroutine logs in (single
// flight), which invalidates stale at the gateway.
func (c *Client) renewToken(ctx context.Context, stale string) (string, error) {
	if err := c.acquire(ctx); err != nil {
		return "", err
	}
	defer c.release()
	c.mu.Lock()
	cur := c.token
	c.mu.Unlock()
	if cur != "" && cur != stale {
		return cur, nil
	}
	return c.loginLocked(ctx, "access token refused (HTTP 401)")
}

func (c *Client) acquire(ctx context.Context) error {
	select {
	case c.loginSem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for bindo login: %w", ctx.Err())
	}
}

func (c *Client) release() { <-c.loginSem }

type loginRequest struct {
	Username     string `json:"username"`
	Password     string `json:"password"`
	GrantType    string `json:"grant_type"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

type loginResponse struct {
	User *struct {
		AccessToken string `json:"access_token"`
		ID          json.RawMessage
	} `json:"user"`
}

// loginLocked logs in, stores the new token in memory and in the
// TokenStore and returns it. The caller holds loginSem.
//
// Errors: a refusal of the credentials (HTTP 4xx, or 2xx without a token)
// is an *authError (ErrAuth + ErrNotSent); anything else (transport, 5xx) is
// a plain error the caller wraps with ErrNotSent, since the business request
// has not been processed either way.
func (c *Client) loginLocked(ctx context.Context, reason string) (string, error) {
	start := c.now()
	body, err := json.Marshal(loginRequest{
		Username: c.username, Password: c.password, GrantType: "password",
		ClientID: c.clientID, ClientSecret: c.secret,
	})
	if err != nil {
		return "", fmt.Errorf("encode login request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.loginURL, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("build login request: %w", err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		c.log.Warn("bindo login failed", "reason", reason, "error", err)
		return "", fmt.Errorf("log in to bindo: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxLoginResponseBytes+1))
	if err != nil {
		return "", fmt.Errorf("read login response (HTTP %d): %w", resp.StatusCode, err)
	}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode <= 299:
	case resp.StatusCode >= 400 && resp.StatusCode <= 499 && resp.StatusCode != http.StatusRequestTimeout && resp.StatusCode != http.StatusTooManyRequests:
		c.log.Error("bindo login refused", "reason", reason, "http_status", resp.StatusCode)
		return "", &authError{reason: fmt.Sprintf("login refused with HTTP %d: %s", resp.StatusCode, httpx.ErrorText(resp.StatusCode, raw))}
	default:
		c.log.Warn("bindo login failed", "reason", reason, "http_status", resp.StatusCode)
		return "", fmt.Errorf("log in to bindo: HTTP %d", resp.StatusCode)
	}
	var lr loginResponse
	if len(raw) > maxLoginResponseBytes || json.Unmarshal(raw, &lr) != nil {
		return "", fmt.Errorf("log in to bindo: unreadable response (HTTP %d)", resp.StatusCode)
	}
	if lr.User == nil || strings.TrimSpace(lr.User.AccessToken) == "" {
		return "", &authError{reason: "login response carries no user.access_token"}
	}
	tok := strings.TrimSpace(lr.User.AccessToken)
	if !headerSafe(tok) {
		return "", fmt.Errorf("log in to bindo: access token is not a valid header value")
	}
	c.mu.Lock()
	c.token, c.loaded = tok, true
	c.mu.Unlock()
	c.log.Info("bindo login", "reason", reason, "duration", c.now().Sub(start))
	if c.tokens != nil {
		if err := c.tokens.SaveToken(ctx, tok); err != nil {
			// The token works for this process; the next restart logs in again.
			c.log.Warn("bindo access token not persisted", "error", err)
		}
	}
	return tok, nil
}
