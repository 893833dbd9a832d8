// Package console serves the store manager's web console: a single page with
// embedded static assets (no CDN, no build step) that talks to the agent over
// the same JSON-RPC WebSocket API as the POS, plus two small HTTP endpoints:
// /console/info (whether the demo's test-sale form is shown) and a CSV export
// of one batch. The handler is mounted at "/" behind the listener's Host and
// Origin guard; the CSV export checks the bearer token itself.
package console

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/posbridge/posbridge/agent"
)

//go:embed static
var staticFS embed.FS

// CSP is the Content-Security-Policy of every console answer: only the
// console's own scripts, styles and images, and WebSocket connections back to
// the agent.
const CSP = "default-src 'self'; connect-src 'self' ws: ; img-src 'self' data:; style-src 'self'; script-src 'self'"

// Config holds the console's dependencies.
type Config struct {
	// Agent answers the CSV export's batch look-ups.
	Agent *agent.Agent
	// CheckToken reports whether a request carries a valid token
	// (rpc.Server.CheckToken: Authorization: Bearer TOKEN).
	CheckToken func(r *http.Request) bool
	// Demo shows the "Test sale" form.
	Demo bool
	// Version is shown in the page footer; empty hides it.
	Version string
	// StoreName is shown in the top bar and heads the printed batch report
	// and day totals (the receipt's merchant name); empty shows none.
	StoreName string
	// Logger receives unexpected errors; nil means slog.Default().
	Logger *slog.Logger
}

// asset is one embedded file with its precomputed headers.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// handler is the console's http.Handler.
type handler struct {
	cfg    Config
	log    *slog.Logger
	assets map[string]asset // by URL path: "/" and "/static/..."
	mux    *http.ServeMux
}

// contentTypes are set explicitly: on Windows the mime package reads the
// registry, which can map .js to text/plain and break ES modules.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
}

// New returns the console's handler. It panics only if the embedded assets
// are broken, which the package's tests rule out.
func New(cfg Config) http.Handler {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	h := &handler{cfg: cfg, log: log, assets: map[string]asset{}}
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			ct = "application/octet-stream"
		}
		sum := sha256.Sum256(body)
		a := asset{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		h.assets["/"+p] = a
		if p == "static/index.html" {
			h.assets["/"] = a
		}
		return nil
	})
	if err != nil || h.assets["/"].body == nil {
		panic("console: embedded assets are missing or unreadable")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.serveAsset)
	mux.HandleFunc("GET /static/", h.serveAsset)
	mux.HandleFunc("GET /console/info", h.serveInfo)
	mux.HandleFunc("GET /console/batches/{sn}/{file}", h.serveCSV)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { notFound(w, "not found") })
	h.mux = mux
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", CSP)
	h.mux.ServeHTTP(w, r)
}

// serveAsset answers "/" and "/static/...". Assets are revalidated on every
// load (no-cache with an ETag, so a 304 on localhost): an upgraded agent never
// serves a stale script next to a new page.
func (h *handler) serveAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := h.assets[r.URL.Path]
	if !ok || r.URL.Path == "/static/index.html" {
		notFound(w, "not found")
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", a.contentType)
	hd.Set("Cache-Control", "no-cache")
	hd.Set("ETag", a.etag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd.Set("Content-Length", strconv.Itoa(len(a.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(a.body)
	}
}

func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// info is the answer of GET /console/info.
type info struct {
	Demo    bool   `json:"demo"`
	Version string `json:"version,omitempty"`
	// Store is the store's name (Config.StoreName); absent when not set.
	Store string `json:"store,omitempty"`
	// Authorized is present only when the request carried an Authorization
	// header: the sign-in form uses it to tell "Token refused" from "agent
	// not reachable", which a browser WebSocket cannot tell apart.
	Authorized *bool `json:"authorized,omitempty"`
}

func (h *handler) serveInfo(w http.ResponseWriter, r *http.Request) {
	v := info{Demo: h.cfg.Demo, Version: h.cfg.Version, Store: h.cfg.StoreName}
	if r.Header.Get("Authorization") != "" {
		ok := h.cfg.CheckToken != nil && h.cfg.CheckToken(r)
		v.Authorized = &ok
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

func notFound(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write([]byte(msg + "\n"))
}
