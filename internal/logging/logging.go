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
	// set with logger.With("component", "agent")). A key covers its
	// dot-separated sub-components too: "ecr" sets the level of
	// "ecr.zvt.serial" unless "ecr.zvt" or "ecr.zvt.serial" has its own.
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
	hopts := &slog.HandlerOptions{Level: minLevel, ReplaceAttr: ReplaceAttr}
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
	h = newLevelHandler(h, o.Level, o.Levels)
	return slog.New(NewRedactHandler(h)), closer, nil
}

// ReplaceAttr is the slog.HandlerOptions.ReplaceAttr of posbridge's
// handlers: a time.Duration is written as a string with its unit ("1.5s",
// "250ms"), the same in the JSON file as on the text console (slog's JSON
// handler would write nanoseconds).
func ReplaceAttr(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		return slog.String(a.Key, a.Value.Duration().String())
	}
	return a
}

// ComponentKey is the attribute naming the part of posbridge that logs.
// A package's constructor adds its own, once, to the logger it is given:
// log.With(logging.ComponentKey, "ecr.zvt.serial"); callers pass their
// parent logger unchanged. Names nest with dots ("ecr", "ecr.pt").
const ComponentKey = "component"

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

// levelHandler applies the level of the record's component and keeps one
// component attribute per record: a component added by a callee replaces
// the one its caller's logger carried (it stays first, right after the
// message), so a line never says component=ecr component=ecr.pt.
type levelHandler struct {
	base   slog.Handler // the handler below, before any attribute of this chain
	next   slog.Handler // base with the component and ops applied
	ops    []handlerOp  // attributes and groups added after base, in order
	comp   string       // the component ("" = none)
	groups int          // groups opened; a component inside a group is an ordinary attribute
	def    slog.Level
	levels map[string]slog.Level
	level  slog.Level // effective level for this handler's component
}

// handlerOp is one WithAttrs (attrs) or WithGroup (group) call.
type handlerOp struct {
	attrs []slog.Attr
	group string
}

func newLevelHandler(next slog.Handler, def slog.Level, levels map[string]slog.Level) *levelHandler {
	return &levelHandler{base: next, next: next, def: def, levels: levels, level: def}
}

// levelFor returns the level of component comp: that of the longest key of
// levels equal to comp or a dot-separated prefix of it, else def.
func levelFor(comp string, def slog.Level, levels map[string]slog.Level) slog.Level {
	for c := comp; c != ""; {
		if l, ok := levels[c]; ok {
			return l
		}
		i := strings.LastIndexByte(c, '.')
		if i < 0 {
			break
		}
		c = c[:i]
	}
	return def
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
	if len(attrs) == 0 {
		return h
	}
	c := *h
	rest := attrs
	if h.groups == 0 {
		rest = make([]slog.Attr, 0, len(attrs))
		for _, a := range attrs {
			if a.Key == ComponentKey {
				c.comp = a.Value.String()
				continue
			}
			rest = append(rest, a)
		}
	}
	c.ops = append(h.ops[:len(h.ops):len(h.ops)], handlerOp{attrs: rest})
	if c.comp == h.comp {
		c.next = h.next.WithAttrs(rest)
		return &c
	}
	// A new component: rebuild from base so it is the only one, and first.
	c.level = levelFor(c.comp, h.def, h.levels)
	c.next = c.base
	if c.comp != "" {
		c.next = c.next.WithAttrs([]slog.Attr{slog.String(ComponentKey, c.comp)})
	}
	for _, op := range c.ops {
		if op.group != "" {
			c.next = c.next.WithGroup(op.group)
		} else if len(op.attrs) > 0 {
			c.next = c.next.WithAttrs(op.attrs)
		}
	}
	return &c
}

func (h *levelHandler) WithGroup(n string) slog.Handler {
	if n == "" {
		return h
	}
	c := *h
	c.ops = append(h.ops[:len(h.ops):len(h.ops)], handlerOp{group: n})
	c.groups++
	c.next = h.next.WithGroup(n)
	return &c
}
