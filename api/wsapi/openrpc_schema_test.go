package wsapi_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/posbridge/posbridge/api/wsapi"
)

// The OpenRPC document (openrpc.json) as the tests read it. Schemas stay
// generic JSON: schemaDoc follows their $refs and compares them with Go
// types (checkType) or validates values against them (validate).

type schema = map[string]any

type openRPCDoc struct {
	OpenRPC       string            `json:"openrpc"`
	Methods       []docMethod       `json:"methods"`
	Notifications []docNotification `json:"x-notifications"`
	Components    struct {
		Errors   map[string]docError   `json:"errors"`
		Schemas  map[string]schema     `json:"schemas"`
		Examples map[string]docExample `json:"examples"`
	} `json:"components"`

	root map[string]any // the whole document, for $ref
}

type docMethod struct {
	Name           string       `json:"name"`
	ParamStructure string       `json:"paramStructure"`
	Params         []docParam   `json:"params"`
	Result         docParam     `json:"result"`
	Errors         []docError   `json:"errors"`
	Examples       []docPairing `json:"examples"`
}

// docParam is a Content Descriptor.
type docParam struct {
	Name     string `json:"name"`
	Required bool   `json:"required"`
	// RequiredWhen (extension x-required-when) says when an optional
	// param is required after all.
	RequiredWhen string `json:"x-required-when"`
	Schema       schema `json:"schema"`
}

// docError is an Error Object or a Reference Object to one.
type docError struct {
	Ref     string `json:"$ref"`
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type docPairing struct {
	Name   string       `json:"name"`
	Params []docExample `json:"params"`
	Result *docExample  `json:"result"`
}

// docExample is an Example Object or a Reference Object to one.
type docExample struct {
	Ref   string `json:"$ref"`
	Name  string `json:"name"`
	Value any    `json:"value"`
}

type docNotification struct {
	Name   string   `json:"name"`
	Params docParam `json:"params"`
}

// loadOpenRPC reads the embedded document.
func loadOpenRPC(t *testing.T) *openRPCDoc {
	t.Helper()
	raw := wsapi.OpenRPC()
	d := &openRPCDoc{}
	if err := json.Unmarshal(raw, d); err != nil {
		t.Fatalf("openrpc.json: %v", err)
	}
	if err := json.Unmarshal(raw, &d.root); err != nil {
		t.Fatalf("openrpc.json: %v", err)
	}
	return d
}

// lookup resolves a local reference such as "#/components/schemas/Payment".
func (d *openRPCDoc) lookup(ref string) (any, error) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("reference %q is not local", ref)
	}
	var cur any = d.root
	for _, k := range strings.Split(rest, "/") {
		m, ok := cur.(map[string]any)
		if !ok || m[k] == nil {
			return nil, fmt.Errorf("reference %q does not resolve", ref)
		}
		cur = m[k]
	}
	return cur, nil
}

// errorObject resolves e.
func (d *openRPCDoc) errorObject(e docError) (docError, error) {
	return component(e.Ref, e, "errors", d.Components.Errors)
}

// example resolves e.
func (d *openRPCDoc) example(e docExample) (docExample, error) {
	return component(e.Ref, e, "examples", d.Components.Examples)
}

// component is what ref names in the components' section, or v itself
// when ref is "" (v is no Reference Object).
func component[T any](ref string, v T, section string, components map[string]T) (T, error) {
	if ref == "" {
		return v, nil
	}
	name, ok := strings.CutPrefix(ref, "#/components/"+section+"/")
	if got, found := components[name]; ok && found {
		return got, nil
	}
	var zero T
	return zero, fmt.Errorf("reference %q does not resolve", ref)
}

// deref follows $ref until a schema without one.
func (d *openRPCDoc) deref(s schema) (schema, error) {
	for i := 0; i < 10; i++ {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s, nil
		}
		v, err := d.lookup(ref)
		if err != nil {
			return nil, err
		}
		if s, ok = v.(map[string]any); !ok {
			return nil, fmt.Errorf("%s is not a schema", ref)
		}
	}
	return nil, fmt.Errorf("reference loop at %v", s)
}

// splitNull separates "may be null" from a schema: {"oneOf": [X, {"type":
// "null"}]} is X, and {"type": [T, "null"]} is {"type": T, ...}.
func (d *openRPCDoc) splitNull(s schema) (schema, bool, error) {
	s, err := d.deref(s)
	if err != nil {
		return nil, false, err
	}
	if alts, ok := s["oneOf"].([]any); ok && len(alts) == 2 {
		for i, a := range alts {
			if am, _ := a.(map[string]any); am["type"] == "null" && len(am) == 1 {
				other, _ := alts[1-i].(map[string]any)
				other, err := d.deref(other)
				return other, true, err
			}
		}
	}
	if ts, ok := s["type"].([]any); ok && len(ts) == 2 && slices.Contains(ts, any("null")) {
		c := make(schema, len(s))
		for k, v := range s {
			c[k] = v
		}
		for _, t := range ts {
			if t != "null" {
				c["type"] = t
			}
		}
		return c, true, nil
	}
	return s, false, nil
}

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

// jsonField is a struct field as encoding/json writes it.
type jsonField struct {
	name      string
	omitempty bool
	typ       reflect.Type
}

// jsonFields lists the JSON members of struct type t.
func jsonFields(t reflect.Type) ([]jsonField, error) {
	var out []jsonField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		if f.Anonymous {
			return nil, fmt.Errorf("%s embeds %s: not supported here", t, f.Type)
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		out = append(out, jsonField{name: name, omitempty: slices.ContainsFunc(strings.Split(opts, ","), isOmitOption), typ: f.Type})
	}
	return out, nil
}

// wantResult in checkType: the schema describes what the API writes (a
// result or notification), so required members and null are compared too;
// otherwise it describes params, which may always be left out.
const (
	asParams = false
	asResult = true
)

// checkType reports where schema s and Go type typ disagree: the JSON type
// (and format for times), each struct's members both ways, and for results
// which members are required (no omitempty) and which may be null
// (pointers). json.RawMessage is not compared: its callers say what it
// holds.
func (d *openRPCDoc) checkType(t *testing.T, path string, s schema, typ reflect.Type, result bool) {
	t.Helper()
	s, null, err := d.splitNull(s)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	if typ.Kind() == reflect.Pointer {
		if result && !null {
			t.Errorf("%s: Go %s can be null, the schema does not allow null", path, typ)
		}
		typ = typ.Elem()
	} else if null && result && typ.Kind() != reflect.Slice && typ.Kind() != reflect.Map {
		t.Errorf("%s: the schema allows null, Go %s is never null", path, typ)
	}
	if typ == rawType {
		return
	}
	want, format := "", ""
	switch {
	case typ == timeType:
		want, format = "string", "date-time"
	case typ.Kind() == reflect.String:
		want = "string"
	case typ.Kind() == reflect.Bool:
		want = "boolean"
	case typ.Kind() >= reflect.Int && typ.Kind() <= reflect.Uint64:
		want = "integer"
	case typ.Kind() == reflect.Slice:
		want = "array"
	case typ.Kind() == reflect.Map, typ.Kind() == reflect.Struct:
		want = "object"
	default:
		t.Errorf("%s: Go %s has no JSON Schema mapping here", path, typ)
		return
	}
	if got := s["type"]; got != want {
		t.Errorf("%s: schema type %v, Go %s is %s", path, got, typ, want)
		return
	}
	if format != "" && s["format"] != format {
		t.Errorf("%s: schema format %v, Go %s is %s", path, s["format"], typ, format)
	}
	switch {
	case typ == timeType:
	case typ.Kind() == reflect.Slice:
		items, _ := s["items"].(map[string]any)
		d.checkType(t, path+"[]", items, typ.Elem(), result)
	case typ.Kind() == reflect.Map:
		ap, _ := s["additionalProperties"].(map[string]any)
		d.checkType(t, path+"{}", ap, typ.Elem(), result)
	case typ.Kind() == reflect.Struct:
		d.checkStruct(t, path, s, typ, result)
	}
}

// checkStruct compares an object schema's properties with a struct's JSON
// members.
func (d *openRPCDoc) checkStruct(t *testing.T, path string, s schema, typ reflect.Type, result bool) {
	t.Helper()
	fields, err := jsonFields(typ)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	props, _ := s["properties"].(map[string]any)
	var required []string
	for _, f := range fields {
		p, ok := props[f.name].(map[string]any)
		if !ok {
			t.Errorf("%s: Go %s has member %q, the schema has no such property", path, typ, f.name)
			continue
		}
		d.checkType(t, path+"."+f.name, p, f.typ, result)
		if !f.omitempty {
			required = append(required, f.name)
		}
	}
	for name := range props {
		if !slices.ContainsFunc(fields, func(f jsonField) bool { return f.name == name }) {
			t.Errorf("%s: the schema has property %q, Go %s has no such member", path, name, typ)
		}
	}
	if !result {
		return
	}
	var documented []string
	for _, r := range asSlice(s["required"]) {
		documented = append(documented, fmt.Sprint(r))
	}
	sort.Strings(required)
	sort.Strings(documented)
	if !slices.Equal(required, documented) {
		t.Errorf("%s: schema required %v, Go %s always writes %v (members without omitempty)", path, documented, typ, required)
	}
	if s["additionalProperties"] != false {
		t.Errorf("%s: an object the API writes lists all its members: want additionalProperties false", path)
	}
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// validate checks value v (as decoded by encoding/json into any) against
// schema s: the subset of JSON Schema the document uses ($ref, oneOf, type,
// enum, pattern, format date and date-time, maxLength, minimum, maximum,
// items, properties, required, additionalProperties). It returns the first
// problem found, or "".
func (d *openRPCDoc) validate(path string, v any, s schema) string {
	s, err := d.deref(s)
	if err != nil {
		return path + ": " + err.Error()
	}
	if alts, ok := s["oneOf"].([]any); ok {
		var pass int
		var why []string
		for _, a := range alts {
			am, _ := a.(map[string]any)
			if p := d.validate(path, v, am); p == "" {
				pass++
			} else {
				why = append(why, p)
			}
		}
		if pass != 1 {
			return fmt.Sprintf("%s: %d alternatives of oneOf match, want 1 (%s)", path, pass, strings.Join(why, "; "))
		}
	}
	if ty, ok := s["type"]; ok {
		types := []any{ty}
		if list, ok := ty.([]any); ok {
			types = list
		}
		if !slices.ContainsFunc(types, func(t any) bool { return jsonType(v, fmt.Sprint(t)) }) {
			return fmt.Sprintf("%s: %s is not of type %v", path, brief(v), ty)
		}
	}
	if enum, ok := s["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return reflect.DeepEqual(e, v) }) {
		return fmt.Sprintf("%s: %s is not one of %v", path, brief(v), enum)
	}
	switch v := v.(type) {
	case string:
		return d.validateString(path, v, s)
	case float64:
		if min, ok := s["minimum"].(float64); ok && v < min {
			return fmt.Sprintf("%s: %v is below the minimum %v", path, v, min)
		}
		if max, ok := s["maximum"].(float64); ok && v > max {
			return fmt.Sprintf("%s: %v is above the maximum %v", path, v, max)
		}
	case []any:
		items, _ := s["items"].(map[string]any)
		for i, x := range v {
			if items != nil {
				if p := d.validate(fmt.Sprintf("%s[%d]", path, i), x, items); p != "" {
					return p
				}
			}
		}
	case map[string]any:
		return d.validateObject(path, v, s)
	}
	return ""
}

func (d *openRPCDoc) validateString(path, v string, s schema) string {
	if pat, ok := s["pattern"].(string); ok && !regexp.MustCompile(pat).MatchString(v) {
		return fmt.Sprintf("%s: %q does not match %s", path, v, pat)
	}
	if max, ok := s["maxLength"].(float64); ok && utf8.RuneCountInString(v) > int(max) {
		return fmt.Sprintf("%s: %q is longer than %v", path, v, max)
	}
	layouts := map[any]string{"date-time": time.RFC3339Nano, "date": time.DateOnly}
	if layout, ok := layouts[s["format"]]; ok {
		if _, err := time.Parse(layout, v); err != nil {
			return fmt.Sprintf("%s: %q is not a %v: %v", path, v, s["format"], err)
		}
	}
	return ""
}

func (d *openRPCDoc) validateObject(path string, v map[string]any, s schema) string {
	props, _ := s["properties"].(map[string]any)
	for _, r := range asSlice(s["required"]) {
		if _, ok := v[fmt.Sprint(r)]; !ok {
			return fmt.Sprintf("%s: required member %q is missing", path, r)
		}
	}
	names := make([]string, 0, len(v))
	for k := range v {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		sub, ok := props[k].(map[string]any)
		if !ok {
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					return fmt.Sprintf("%s: member %q is not in the schema", path, k)
				}
				continue
			case map[string]any:
				sub = ap
			default:
				continue
			}
		}
		if p := d.validate(path+"."+k, v[k], sub); p != "" {
			return p
		}
	}
	return ""
}

// jsonType reports whether v is of JSON Schema type name.
func jsonType(v any, name string) bool {
	switch name {
	case "null":
		return v == nil
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "number":
		_, ok := v.(float64)
		return ok
	case "integer":
		f, ok := v.(float64)
		return ok && f == float64(int64(f))
	case "array":
		_, ok := v.([]any)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	}
	return false
}

// brief is v for a failure message, cut short.
func brief(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}

// isOmitOption reports whether a json tag option leaves a member out when
// it is empty (omitempty) or zero (omitzero).
func isOmitOption(o string) bool { return o == "omitempty" || o == "omitzero" }
