package wsapi

import (
	"reflect"

	"github.com/posbridge/posbridge/agent"
	"github.com/posbridge/posbridge/device"
)

// MethodType is what the method table says of one method: the Go types of
// its params and of its result. Exported for openrpc_test.go.
type MethodType struct{ Params, Result reflect.Type }

// MethodTypes returns the method table's types, by method name.
func MethodTypes() map[string]MethodType {
	out := make(map[string]MethodType, len(methods))
	for name, m := range methods {
		out[name] = MethodType{Params: m.params, Result: m.result}
	}
	return out
}

// NotificationTypes returns the Go type of the params of every
// notification a connection subscribed to everything receives, by
// notification method, as connState.notification makes them.
func NotificationTypes() map[string]reflect.Type {
	st := &connState{owned: map[string]bool{}, topics: map[string]bool{"payment": true, "terminal": true, "batch": true}}
	out := map[string]reflect.Type{}
	for _, e := range []agent.Event{{Payment: &agent.Payment{}}, {Terminal: &device.Status{}}, {Batch: &agent.BatchReport{}}} {
		if method, params, ok := st.notification(e); ok {
			out[method] = reflect.TypeOf(params)
		}
	}
	return out
}

// AppError is appError, the mapping of the agent's errors to JSON-RPC errors.
func AppError(err error) error { return appError(err) }
