// Package logging builds posbridge's slog logger: JSON lines to a rotating
// file under the data directory, text to the console when it is a terminal,
// per-component levels, and a redaction layer in front of every output so no
// card data or secret is ever written.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
)

// Options configures New.
type Options struct {
	// Dir is where posbridge.log and its rotations live ("" = no file).
	Dir string
	// Level is the default minimum level.
	Level slog.Level
	// Levels overrides the level per component (the "component" attribute
	// set with logger.With("component", "agent")).
	Levels map[string]slog.Level
	// Console receives text lines (nil = none).
	Console io.Writer
	// MaxSize is the size in bytes at which the file rotates (default 10 MiB).
	MaxSize int64
	// MaxFiles is how many rotated files are kept (default 5).
	MaxFiles int
}

// ParseLevel parses "debug", "info", "warn" or "error".
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(s))); err != nil {
		return 0, fmt.Errorf("unknown log level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// New returns the logger and a closer for its file.
func New(o Options) (*slog.Logger, io.Closer, error) {
	var outs []slog.Handler
	var closer io.Closer = nopCloser{}
	minLevel := o.Level
	for _, l := range o.Levels {
		minLevel = min(minLevel, l)
	}
	hopts := &slog.HandlerOptions{Level: minLevel}
	if o.Dir != "" {
		f, err := OpenRotating(filepath.Join(o.Dir, "posbridge.log"), o.MaxSize, o.MaxFiles)
		if err != nil {
			return nil, nil, err
		}
		closer = f
		outs = append(outs, slog.NewJSONHandler(f, hopts))
	}
	if o.Console != nil {
		outs = append(outs, slog.NewTextHandler(o.Console, hopts))
	}
	var h slog.Handler = fanout(outs)
	h = &levelHandler{next: h, def: o.Level, levels: o.Levels, level: o.Level}
	return slog.New(NewRedactHandler(h)), closer, nil
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

// fanout sends each record to every handler.
type fanout []slog.Handler

func (f fanout) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range f {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (f fanout) Handle(ctx context.Context, r slog.Record) error {
	var first error
	for _, h := range f {
		if h.Enabled(ctx, r.Level) {
			if err := h.Handle(ctx, r.Clone()); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

func (f fanout) WithAttrs(a []slog.Attr) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithAttrs(a)
	}
	return out
}

func (f fanout) WithGroup(n string) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithGroup(n)
	}
	return out
}

// levelHandler applies the level of the record's component.
type levelHandler struct {
	next   slog.Handler
	def    slog.Level
	levels map[string]slog.Level
	level  slog.Level // effective level for this handler's component
}

func (h *levelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level && h.next.Enabled(ctx, l)
}

func (h *levelHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < h.level {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h *levelHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	level := h.level
	for _, a := range attrs {
		if a.Key == "component" {
			if l, ok := h.levels[a.Value.String()]; ok {
				level = l
			} else {
				level = h.def
			}
		}
	}
	return &levelHandler{next: h.next.WithAttrs(attrs), def: h.def, levels: h.levels, level: level}
}

func (h *levelHandler) WithGroup(n string) slog.Handler {
	return &levelHandler{next: h.next.WithGroup(n), def: h.def, levels: h.levels, level: h.level}
}
