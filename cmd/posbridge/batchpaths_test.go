package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/posbridge/posbridge/agent/agenttest"
	"github.com/posbridge/posbridge/api/rpc"
	"github.com/posbridge/posbridge/api/server"
	"github.com/posbridge/posbridge/api/wsapi"
)

// closePath closes the batch of agenttest.TermA one way and returns the report.
type closePath struct {
	name  string
	close func(t *testing.T) wsapi.BatchReport
}

// TestBatchCloseSameReportEveryPath takes the same sales through a batch
// closed by each front end and compares the reports.
func TestBatchCloseSameReportEveryPath(t *testing.T) {
	e := agenttest.New(t, agenttest.Opts{})
	const tok = "batch-paths-token-0123456789"
	rs, err := rpc.NewServer(rpc.Config{Handler: wsapi.New(e.Agent, nil), Tokens: func() []string { return []string{tok} }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.Handler(server.Config{Agent: e.Agent, RPC: rs}))
	defer srv.Close()
	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/ws"
	wsClose := func(source string) func(t *testing.T) wsapi.BatchReport {
		return func(t *testing.T) wsapi.BatchReport {
			conn, _, err := websocket.DefaultDialer.Dial(wsURL, http.Header{"Authorization": {"Bearer " + tok}})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			res := wsCall(t, conn, 1, "batch.close", map[string]any{"terminal_sn": agenttest.TermA, "source": source})
			var r wsapi.BatchReport
			json.Unmarshal(res, &r)
			return r
		}
	}
	paths := []closePath{
		{"ws", wsClose("ws")},
		{"console", wsClose("console")},
		{"cli", func(t *testing.T) wsapi.BatchReport {
			var out, errb bytes.Buffer
			if code := cmdBatch(context.Background(), []string{"close", "--terminal", agenttest.TermA, "--url", wsURL, "--token", tok, "--json"}, &out, &errb); code != 0 {
				t.Fatalf("posbridge batch close: %d %s", code, errb.String())
			}
			var r wsapi.BatchReport
			if err := json.Unmarshal(out.Bytes(), &r); err != nil {
				t.Fatalf("decode CLI report: %v\n%s", err, out.String())
			}
			return r
		}},
	}
	paths = append(paths, ecrClosePaths(t, e)...)
	var first wsapi.BatchReport
	for i, p := range paths {
		n := 0
		for _, amount := range []string{"10.00", "2.50"} {
			n++
			no := "BP" + p.name + string(rune('0'+n))
			e.MustCreate(e.Sale(strings.ToUpper(no), agenttest.TermA, amount))
			e.WaitFinal(strings.ToUpper(no))
		}
		r := p.close(t)
		if r.State != "closed" || r.ClosedBy != p.name || r.Cloud == nil || len(r.Differences) != 0 {
			t.Fatalf("%s close: %+v", p.name, r)
		}
		if i == 0 {
			first = r
			continue
		}
		if !reflect.DeepEqual(r.Local, first.Local) || !reflect.DeepEqual(*r.Cloud, *first.Cloud) {
			t.Errorf("%s report differs from %s:\n%+v\n%+v", p.name, paths[0].name, r, first)
		}
		if r.BatchNo != first.BatchNo+int64(i) {
			t.Errorf("%s closed batch %d, want %d", p.name, r.BatchNo, first.BatchNo+int64(i))
		}
	}
}
