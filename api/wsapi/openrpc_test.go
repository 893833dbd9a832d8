package wsapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"go/types"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/api/rpc"
	"github.com/posbridge/posbridge/api/wsapi"
	"github.com/posbridge/posbridge/device/card"
	"github.com/posbridge/posbridge/internal/config"
	"github.com/posbridge/posbridge/money"
)

// componentTypes are the Go types the object schemas of
// components.schemas describe; result says whether the API writes them
// (required members and null are then compared too) or reads them (params).
var componentTypes = map[string]struct {
	typ    reflect.Type
	result bool
}{
	"Payment":          {reflect.TypeFor[wsapi.Payment](), asResult},
	"Card":             {reflect.TypeFor[wsapi.Card](), asResult},
	"PaymentError":     {reflect.TypeFor[wsapi.PaymentError](), asResult},
	"QRCode":           {reflect.TypeFor[wsapi.QRCode](), asResult},
	"Receipt":          {reflect.TypeFor[wsapi.Receipt](), asResult},
	"ReceiptFields":    {reflect.TypeFor[wsapi.ReceiptFields](), asResult},
	"ReceiptCard":      {reflect.TypeFor[wsapi.ReceiptCard](), asResult},
	"PaymentList":      {reflect.TypeFor[wsapi.PaymentList](), asResult},
	"AlertList":        {reflect.TypeFor[wsapi.AlertList](), asResult},
	"PaymentHistory":   {reflect.TypeFor[wsapi.PaymentHistory](), asResult},
	"PaymentEvent":     {reflect.TypeFor[wsapi.PaymentEvent](), asResult},
	"SearchPage":       {reflect.TypeFor[wsapi.SearchPage](), asResult},
	"DayReport":        {reflect.TypeFor[wsapi.DayReport](), asResult},
	"DayTerminal":      {reflect.TypeFor[wsapi.DayTerminal](), asResult},
	"TerminalList":     {reflect.TypeFor[wsapi.TerminalList](), asResult},
	"Terminal":         {reflect.TypeFor[wsapi.Terminal](), asResult},
	"CodePayLink":      {reflect.TypeFor[wsapi.CodePayLink](), asResult},
	"BatchReport":      {reflect.TypeFor[wsapi.BatchReport](), asResult},
	"BatchTotals":      {reflect.TypeFor[wsapi.BatchTotals](), asResult},
	"TypeTotal":        {reflect.TypeFor[wsapi.TypeTotal](), asResult},
	"CloudTotals":      {reflect.TypeFor[wsapi.CloudTotals](), asResult},
	"BatchList":        {reflect.TypeFor[wsapi.BatchList](), asResult},
	"Changes":          {reflect.TypeFor[wsapi.Changes](), asResult},
	"Subscribed":       {reflect.TypeFor[wsapi.Subscribed](), asResult},
	"SubscribedReplay": {reflect.TypeFor[wsapi.SubscribedReplay](), asResult},
	"Options":          {reflect.TypeFor[wsapi.Options](), asParams},
	"CardData":         {reflect.TypeFor[card.Input](), asParams},
}

// rawParams say what the params held as json.RawMessage decode into: the
// amounts are read as strings (moneyString), card as a card.Input
// (parseCard).
var rawParams = map[string]reflect.Type{
	"amount":          reflect.TypeFor[string](),
	"tip_amount":      reflect.TypeFor[string](),
	"cashback_amount": reflect.TypeFor[string](),
	"card":            reflect.TypeFor[card.Input](),
}

// TestOpenRPCDocument holds openrpc.json to the implementation, statically:
// the methods are those of the method table; each method's params are the
// JSON members of the struct its params decode into (names both ways, JSON
// types, nested objects); its result schema is its result's wire type
// (members both ways, required = no omitempty, null = pointer); every
// object schema in components matches its Go type; the notifications are
// those the API sends, with their params' wire types; and every example
// fits the schemas it illustrates.
func TestOpenRPCDocument(t *testing.T) {
	d := loadOpenRPC(t)
	if d.OpenRPC != "1.3.2" {
		t.Errorf("openrpc = %q, want 1.3.2", d.OpenRPC)
	}
	table := wsapi.MethodTypes()
	var documented []string
	for _, m := range d.Methods {
		documented = append(documented, m.Name)
	}
	implemented := make([]string, 0, len(table))
	for name := range table {
		implemented = append(implemented, name)
	}
	sort.Strings(implemented)
	if sorted := slices.Sorted(slices.Values(documented)); !slices.Equal(sorted, implemented) {
		t.Fatalf("documented methods %v, implemented %v", sorted, implemented)
	}
	for _, m := range d.Methods {
		t.Run(m.Name, func(t *testing.T) {
			mt := table[m.Name]
			if m.ParamStructure != "by-name" {
				t.Errorf("paramStructure %q, want by-name (params are an object)", m.ParamStructure)
			}
			d.checkParams(t, m, mt.Params)
			d.checkResult(t, m, mt.Result)
			d.checkMethodErrors(t, m)
			d.checkExamples(t, m)
		})
	}
	for name, s := range d.Components.Schemas {
		ct, ok := componentTypes[name]
		switch {
		case ok:
			d.checkType(t, "components.schemas."+name, s, ct.typ, ct.result)
		case s["type"] == "object":
			t.Errorf("components.schemas.%s: an object schema without a Go type in componentTypes", name)
		}
	}
	for name := range componentTypes {
		if _, ok := d.Components.Schemas[name]; !ok {
			t.Errorf("componentTypes names %s, which components.schemas lacks", name)
		}
	}
	d.checkNotifications(t)
}

// checkParams compares the documented params with the params struct's
// JSON members.
func (d *openRPCDoc) checkParams(t *testing.T, m docMethod, params reflect.Type) {
	t.Helper()
	fields, err := jsonFields(params)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range m.Params {
		if seen[p.Name] {
			t.Errorf("param %q documented twice", p.Name)
		}
		seen[p.Name] = true
		i := slices.IndexFunc(fields, func(f jsonField) bool { return f.name == p.Name })
		if i < 0 {
			t.Errorf("documented param %q is not a member of %s: the method refuses it as an unknown field", p.Name, params)
			continue
		}
		typ := fields[i].typ
		if typ == rawType {
			if typ = rawParams[p.Name]; typ == nil {
				t.Errorf("param %q is a json.RawMessage: say in rawParams what it decodes into", p.Name)
				continue
			}
		}
		if p.Required && p.RequiredWhen != "" {
			t.Errorf("param %q is required, and required when %q", p.Name, p.RequiredWhen)
		}
		d.checkType(t, "param "+p.Name, p.Schema, typ, asParams)
	}
	for _, f := range fields {
		if !seen[f.name] {
			t.Errorf("%s has member %q, which the document does not list as a param", params, f.name)
		}
	}
}

// checkResult compares the result schema with the result's Go type; a
// result of several types (an interface) is a oneOf of component schemas.
func (d *openRPCDoc) checkResult(t *testing.T, m docMethod, result reflect.Type) {
	t.Helper()
	if result.Kind() != reflect.Interface {
		d.checkType(t, "result", m.Result.Schema, result, asResult)
		return
	}
	alts := asSlice(m.Result.Schema["oneOf"])
	if len(alts) < 2 {
		t.Errorf("the result is a Go %s (several types): want a oneOf of component schemas, got %v", result, m.Result.Schema)
	}
	for _, a := range alts {
		ref, _ := a.(map[string]any)["$ref"].(string)
		name, _ := strings.CutPrefix(ref, "#/components/schemas/")
		ct, ok := componentTypes[name]
		if !ok || !ct.typ.Implements(result) {
			t.Errorf("result alternative %q is not a component schema of a Go type that is a %s", ref, result)
		}
	}
}

// checkMethodErrors: every error of the method resolves, codes are unique,
// and -32602 and -32603 are listed (every method decodes params and may fail
// inside).
func (d *openRPCDoc) checkMethodErrors(t *testing.T, m docMethod) {
	t.Helper()
	codes := map[int]bool{}
	for _, e := range m.Errors {
		e, err := d.errorObject(e)
		if err != nil {
			t.Error(err)
			continue
		}
		if codes[e.Code] {
			t.Errorf("error %d listed twice", e.Code)
		}
		codes[e.Code] = true
	}
	for _, c := range []int{rpc.CodeInvalidParams, rpc.CodeInternalError} {
		if !codes[c] {
			t.Errorf("errors lack %d", c)
		}
	}
}

// checkExamples: every method has an example; every example gives every
// required param and only documented ones, each fitting its schema; its
// result fits the result schema.
func (d *openRPCDoc) checkExamples(t *testing.T, m docMethod) {
	t.Helper()
	if len(m.Examples) == 0 {
		t.Error("no example")
	}
	for _, ex := range m.Examples {
		given := map[string]bool{}
		for _, pe := range ex.Params {
			given[pe.Name] = true
			i := slices.IndexFunc(m.Params, func(p docParam) bool { return p.Name == pe.Name })
			if i < 0 {
				t.Errorf("example %q: param %q is not documented", ex.Name, pe.Name)
				continue
			}
			if p := d.validate("example "+ex.Name+": "+pe.Name, pe.Value, m.Params[i].Schema); p != "" {
				t.Error(p)
			}
		}
		for _, p := range m.Params {
			if p.Required && !given[p.Name] {
				t.Errorf("example %q lacks the required param %q", ex.Name, p.Name)
			}
		}
		if ex.Result == nil {
			t.Errorf("example %q has no result", ex.Name)
			continue
		}
		res, err := d.example(*ex.Result)
		if err != nil {
			t.Error(err)
			continue
		}
		if p := d.validate("example "+ex.Name+": result", res.Value, m.Result.Schema); p != "" {
			t.Error(p)
		}
	}
}

// checkNotifications: x-notifications are the notifications the API sends
// (the notify…Method constants), each with its params' wire type.
func (d *openRPCDoc) checkNotifications(t *testing.T) {
	t.Helper()
	sent := wsapi.NotificationTypes()
	consts := sourceConstants(t, []string{"."}, func(name string) bool {
		return strings.HasPrefix(name, "notify") && strings.HasSuffix(name, "Method")
	})
	var names, documented []string
	for _, c := range consts {
		s, err := strconv.Unquote(c.value)
		if err != nil {
			t.Errorf("%s = %s: not a string", c.name, c.value)
		}
		names = append(names, s)
		if sent[s] == nil {
			t.Errorf("notification %s (%s) is never made by connState.notification", s, c.name)
		}
	}
	for _, n := range d.Notifications {
		documented = append(documented, n.Name)
		typ, ok := sent[n.Name]
		if !ok {
			t.Errorf("x-notifications documents %s, which the API never sends", n.Name)
			continue
		}
		d.checkType(t, "x-notifications "+n.Name, n.Params.Schema, typ, asResult)
	}
	sort.Strings(names)
	sort.Strings(documented)
	if !slices.Equal(names, documented) {
		t.Errorf("x-notifications %v, the API sends %v", documented, names)
	}
}

// sourceConstant is a constant declared in Go source.
type sourceConstant struct{ name, value string }

// sourceConstants returns the constants whose name matches, declared in the
// non-test Go files of dirs, with their values as written.
func sourceConstants(t *testing.T, dirs []string, match func(string) bool) []sourceConstant {
	t.Helper()
	var out []sourceConstant
	fset := gotoken.NewFileSet()
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, decl := range f.Decls {
				out = append(out, declConstants(t, decl, match)...)
			}
		}
	}
	return out
}

func declConstants(t *testing.T, decl ast.Decl, match func(string) bool) []sourceConstant {
	gd, ok := decl.(*ast.GenDecl)
	if !ok || gd.Tok != gotoken.CONST {
		return nil
	}
	var out []sourceConstant
	for _, spec := range gd.Specs {
		vs := spec.(*ast.ValueSpec)
		for i, n := range vs.Names {
			if !match(n.Name) {
				continue
			}
			if i >= len(vs.Values) {
				t.Errorf("constant %s has no value of its own", n.Name)
				continue
			}
			out = append(out, sourceConstant{n.Name, types.ExprString(vs.Values[i])})
		}
	}
	return out
}

// errorCodeConstants returns the JSON-RPC error codes api/rpc and
// api/wsapi define (their exported Code… constants), by code.
func errorCodeConstants(t *testing.T) map[int][]string {
	t.Helper()
	out := map[int][]string{}
	for _, c := range sourceConstants(t, []string{".", "../rpc"}, func(name string) bool {
		return strings.HasPrefix(name, "Code") && ast.IsExported(name)
	}) {
		code, err := strconv.Atoi(strings.ReplaceAll(c.value, " ", ""))
		if err != nil {
			t.Errorf("error code %s = %s: not a number literal", c.name, c.value)
			continue
		}
		out[code] = append(out[code], c.name)
	}
	return out
}

// TestOpenRPCErrorCodes: the error codes of components.errors are exactly
// the Code… constants of api/rpc and api/wsapi, and each one's message is
// the text the implementation writes (the start of every message of that
// code; the whole message where it has no detail).
func TestOpenRPCErrorCodes(t *testing.T) {
	d := loadOpenRPC(t)
	defined := errorCodeConstants(t)
	documented := map[int]string{}
	for name, e := range d.Components.Errors {
		if other, ok := documented[e.Code]; ok {
			t.Errorf("components.errors %s and %s both have code %d", name, other, e.Code)
		}
		documented[e.Code] = name
		if defined[e.Code] == nil {
			t.Errorf("components.errors.%s: code %d is no Code… constant of api/rpc or api/wsapi", name, e.Code)
		}
	}
	for code, names := range defined {
		if _, ok := documented[code]; !ok {
			t.Errorf("%v = %d is not in components.errors", names, code)
		}
	}
	message := func(code int) string { return d.Components.Errors[documented[code]].Message }

	// The application errors: each agent error maps to its code with a
	// message starting with the agent's text, as documented.
	sentinels := []error{agent.ErrOrderNoReused, agent.ErrNotFound, agent.ErrNotCancellable, agent.ErrStopping,
		agent.ErrTerminalBusy, agent.ErrBatchCloseRefused, agent.ErrBatchCloseUnknown, agent.ErrNotAdjustable,
		agent.ErrFallbackRefused, agent.ErrCodePayNoAnswer, agent.ErrCancelUnconfirmed, agent.ErrNoReceipt, agent.ErrTipUnknown}
	mapped := map[int]bool{}
	for _, s := range sentinels {
		var re *rpc.Error
		if !errors.As(wsapi.AppError(fmt.Errorf("%w: A1001", s)), &re) {
			t.Errorf("agent error %q is not mapped to a JSON-RPC error", s)
			continue
		}
		mapped[re.Code] = true
		if want := message(re.Code); want != s.Error() || !strings.HasPrefix(re.Message, want) {
			t.Errorf("code %d: documented message %q; the agent's error is %q, sent as %q", re.Code, want, s, re.Message)
		}
	}
	for code, names := range defined {
		if code > -32100 && code <= -32000 && !mapped[code] {
			t.Errorf("%v = %d: no agent error in this test maps to it; add it to sentinels", names, code)
		}
	}
	// -32602 without a field is the bare documented text; with one, the
	// message starts with the field (docs/websocket-api.md).
	if got := rpc.InvalidParams("", "").Message; got != message(rpc.CodeInvalidParams) {
		t.Errorf("-32602 message %q, documented %q", got, message(rpc.CodeInvalidParams))
	}
}

// TestOpenRPCPatterns: the patterns of the document accept what the
// implementation accepts. An Amount matches exactly the strings money.Parse
// reads as a decimal (whether the decimals fit the currency is checked
// apart); an OrderNo exactly the valid order numbers.
func TestOpenRPCPatterns(t *testing.T) {
	d := loadOpenRPC(t)
	usd := money.MustCurrency("USD")
	for _, s := range []string{"12.34", "500", "0", "0.5", "12.345", "1234567.123456", "123456789012345", "1234567890123456",
		"1.1234567", "", "12.", ".5", "-1", "+1", "1e3", " 1", "1 ", "12,34", "1_000", "0x10", "١٢"} {
		_, err := money.Parse(s, usd)
		want := !errors.Is(err, money.ErrBadAmount)
		if got := d.validate("amount", s, schema{"$ref": "#/components/schemas/Amount"}) == ""; got != want {
			t.Errorf("Amount pattern accepts %q: %v; money.Parse reads it: %v (%v)", s, got, want, err)
		}
	}
	for _, s := range []string{"A1001", "a", "0-9_|*@", strings.Repeat("9", 32), strings.Repeat("9", 33), "", "A 1", "A1001!", "Ä1", "A\n"} {
		want := config.ValidOrderNo(s)
		if got := d.validate("no", s, schema{"$ref": "#/components/schemas/OrderNo"}) == ""; got != want {
			t.Errorf("OrderNo pattern accepts %q: %v; config.ValidOrderNo: %v", s, got, want)
		}
	}
}

// exampleParams are the params of an example, with the substitution the
// conformance test makes: the examples' terminal is the test environment's.
func exampleParams(ex docPairing, termA string) map[string]any {
	out := map[string]any{}
	for _, p := range ex.Params {
		v := p.Value
		if v == "DEMO000001" {
			v = termA
		}
		out[p.Name] = v
	}
	return out
}

// without returns params less the named one.
func without(params map[string]any, name string) map[string]any {
	out := make(map[string]any, len(params))
	for k, v := range params {
		if k != name {
			out[k] = v
		}
	}
	return out
}

// with returns params with name set to v.
func with(params map[string]any, name string, v any) map[string]any {
	out := without(params, name)
	out[name] = v
	return out
}

// waitState waits until orderNo is in state.
func waitState(t *testing.T, a *agent.Agent, orderNo, state string) {
	t.Helper()
	changed := make(chan struct{}, 1)
	unsub := a.Subscribe(func(e agent.Event) {
		if e.Payment != nil && e.Payment.MerchantOrderNo == orderNo {
			select {
			case changed <- struct{}{}:
			default:
			}
		}
	})
	defer unsub()
	timeout := time.After(20 * time.Second)
	for {
		p, err := a.Get(context.Background(), orderNo)
		if err == nil && p.State == state {
			return
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("%s: %s, %v; want %s", orderNo, p.State, err, state)
		}
	}
}

// TestOpenRPCTransportErrors: the documented messages of the transport's
// errors are how the real messages start, over a real WebSocket: -32700 for
// a message that is not JSON, -32600 for an empty batch, -32601 for an
// unknown method, and -32603 for a handler's failure (only logged).
func TestOpenRPCTransportErrors(t *testing.T) {
	d := loadOpenRPC(t)
	documented := map[int]string{}
	for _, e := range d.Components.Errors {
		documented[e.Code] = e.Message
	}
	// check sends raw and reads the error answering it: id is the
	// request's, -1 when the answer has a null id.
	check := func(c *client, what, raw string, id, code int) {
		t.Helper()
		if err := c.conn.WriteMessage(websocket.TextMessage, []byte(raw)); err != nil {
			t.Fatal(err)
		}
		_, errObj, _ := c.await(id)
		got := decodeErr(t, errObj)
		want := documented[code]
		if got.Code != code || (got.Message != want && !strings.HasPrefix(got.Message, want+": ")) {
			t.Errorf("%s: %d %q, want %d starting %q", what, got.Code, got.Message, code, want)
		}
	}
	e := newWSEnv(t)
	c := e.dial(t)
	check(c, "not JSON", "{", -1, rpc.CodeParseError)
	check(c, "empty batch", "[]", -1, rpc.CodeInvalidRequest)
	check(c, "unknown method", `{"jsonrpc":"2.0","id":1,"method":"payment.teleport"}`, 1, rpc.CodeMethodNotFound)

	rs, err := rpc.NewServer(rpc.Config{
		Handler: rpc.HandlerFunc(func(context.Context, *rpc.Conn, string, json.RawMessage) (any, error) {
			return nil, errors.New("the journal is on fire")
		}),
		Tokens: func() []string { return []string{token} },
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rs)
	defer srv.Close()
	failing := (&wsEnv{url: "ws" + strings.TrimPrefix(srv.URL, "http")}).dial(t)
	check(failing, "handler failure", `{"jsonrpc":"2.0","id":1,"method":"payment.get"}`, 1, rpc.CodeInternalError)
}
