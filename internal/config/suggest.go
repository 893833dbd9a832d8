package config

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/BurntSushi/toml"
)

// Unknown keys. Parse reports every key of the file that Config does not
// know, one *Error each, with the closest known key of the same table when
// one is close enough to be a typo ("did you mean gateway_url?"), else the
// table the key belongs in, else the keys the table has. The known keys
// are read from Config's toml tags, so a new field is known at once.

// configType is the type the file is decoded into.
var configType = reflect.TypeFor[Config]()

// unknownKeys returns one *Error per key of the decoded file that Config
// does not know, in the order of the file. Keys below an unknown table are
// not reported again; entries of an array of tables are named with their
// index ("terminal[1].lane2").
func unknownKeys(file string, md toml.MetaData) []error {
	undecoded := md.Undecoded()
	if len(undecoded) == 0 {
		return nil
	}
	unknown := make(map[string]bool, len(undecoded))
	for _, k := range undecoded {
		unknown[k.String()] = true
	}
	var errs []error
	entry := map[string]int{} // array of tables → index of the entry being read
	for _, k := range md.Keys() {
		path := k.String()
		if !unknown[path] {
			if t, ok := typeAt(k); ok && t.Kind() == reflect.Slice && structType(t.Elem()) != nil {
				entry[path]++
			}
			continue
		}
		if unknownParent(k, unknown) {
			continue
		}
		table := md.Type(k...) == "Hash" || md.Type(k...) == "ArrayHash"
		errs = append(errs, &Error{File: file, Field: fieldName(k, entry), Msg: unknownKeyMessage(k, table)})
	}
	return errs
}

// unknownParent reports whether a table above k is itself unknown.
func unknownParent(k toml.Key, unknown map[string]bool) bool {
	for i := 1; i < len(k); i++ {
		if unknown[k[:i].String()] {
			return true
		}
	}
	return false
}

// fieldName is k as the validators name fields: an entry of an array of
// tables carries its index ("terminal[1].lane2").
func fieldName(k toml.Key, entry map[string]int) string {
	var b strings.Builder
	for i, part := range k {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(part)
		if n, ok := entry[k[:i+1].String()]; ok && i < len(k)-1 {
			fmt.Fprintf(&b, "[%d]", n-1)
		}
	}
	return b.String()
}

// unknownKeyMessage says what is wrong with the unknown key k (a table
// when isTable) and how to fix it.
func unknownKeyMessage(k toml.Key, isTable bool) string {
	leaf := k[len(k)-1]
	parent, _ := typeAt(k[:len(k)-1])
	known := tomlKeys(parent)
	what, table := "key", "the file"
	if isTable {
		what = "table"
	}
	if len(k) > 1 {
		table = header(k[:len(k)-1])
	}
	if s := suggest(leaf, known); s != "" {
		if isTable {
			s = header(append(k[:len(k)-1:len(k)-1], s))
		}
		return fmt.Sprintf("unknown %s; did you mean %s?", what, s)
	}
	if home := tableOf(leaf); home != "" {
		return fmt.Sprintf("unknown %s: %s belongs in %s", what, leaf, home)
	}
	return fmt.Sprintf("unknown %s; %s has: %s", what, table, strings.Join(known, ", "))
}

// header is how the file writes the header of the table at k: "[agent]",
// "[[terminal]]" for an array of tables.
func header(k toml.Key) string {
	if t, ok := typeAt(k); ok && t.Kind() == reflect.Slice {
		return "[[" + k.String() + "]]"
	}
	return "[" + k.String() + "]"
}

// typeAt is the Go type of the value at key k of a Config (k empty: Config
// itself); ok is false when Config has no such key. Maps accept any key.
func typeAt(k toml.Key) (reflect.Type, bool) {
	t := configType
	for _, part := range k {
		switch c := container(t); {
		case c == nil:
			return nil, false
		case c.Kind() == reflect.Map:
			t = c.Elem()
		default:
			f, ok := fieldByTag(c, part)
			if !ok {
				return nil, false
			}
			t = f.Type
		}
	}
	return t, true
}

// container is the struct or map a value of type t holds keys in (through
// pointers and arrays of tables), or nil for a plain value.
func container(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() == reflect.Map {
		return t
	}
	return structType(t)
}

// structType is t (through pointers) when it is a table struct, else nil.
// Structs that decode themselves from text (Duration, Days) are values.
func structType(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || reflect.PointerTo(t).Implements(textUnmarshaler) {
		return nil
	}
	return t
}

var textUnmarshaler = reflect.TypeFor[interface{ UnmarshalText([]byte) error }]()

// fieldByTag finds the field of struct t whose toml tag names key.
func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if tomlName(f) == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// tomlName is the key of field f, "" for fields the file cannot set.
func tomlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	if name == "-" || !f.IsExported() {
		return ""
	}
	return name
}

// tomlKeys lists the keys of the table of type t, in declaration order.
func tomlKeys(t reflect.Type) []string {
	if t == nil {
		return nil
	}
	c := container(t)
	if c == nil || c.Kind() != reflect.Struct {
		return nil
	}
	var keys []string
	for i := range c.NumField() {
		if name := tomlName(c.Field(i)); name != "" {
			keys = append(keys, name)
		}
	}
	return keys
}

// tableOf is the first table (in Config's order, depth first) that has a
// key named leaf, as the file writes its header ("[agent]", "[[terminal]]"),
// or "".
func tableOf(leaf string) string {
	var find func(t reflect.Type, path string) string
	find = func(t reflect.Type, path string) string {
		c := container(t)
		if c == nil || c.Kind() != reflect.Struct {
			return ""
		}
		for i := range c.NumField() {
			f := c.Field(i)
			name := tomlName(f)
			if name == "" {
				continue
			}
			if name == leaf && path != "" {
				return header(strings.Split(path, "."))
			}
			sub := name
			if path != "" {
				sub = path + "." + name
			}
			if found := find(f.Type, sub); found != "" {
				return found
			}
		}
		return ""
	}
	return find(configType, "")
}

// suggest returns the known key closest to key when it is close enough to
// be a typo of it, else "". Case and '-' for '_' are not counted.
func suggest(key string, known []string) string {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "-", "_") }
	best, bestDist := "", -1
	for _, k := range known {
		d := levenshtein(norm(key), norm(k))
		if d <= typoDistance(k) && (bestDist < 0 || d < bestDist) {
			best, bestDist = k, d
		}
	}
	return best
}

// typoDistance is how many edits still make a typo of key: one for short
// keys, up to three for long ones.
func typoDistance(key string) int {
	return min(3, max(1, len(key)/4))
}

// levenshtein is the edit distance between a and b (insertions, deletions
// and substitutions of bytes).
func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
