package memnet

import (
	"context"
	"errors"
	"io"
	"net/http"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// TestHTTPInBubble: an HTTP server and client talk over the listener inside
// a synctest bubble, a client timeout fires in virtual time, and a refusing
// listener fails dials with ECONNREFUSED.
func TestHTTPInBubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := Listen("svc:80")
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				time.Sleep(time.Hour)
			}
			io.WriteString(w, "hello")
		})}
		go srv.Serve(l)
		tr := &http.Transport{DialContext: l.Dial}
		c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		defer func() {
			tr.CloseIdleConnections()
			srv.Shutdown(context.Background())
		}()

		resp, err := c.Get("http://svc/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "hello" {
			t.Fatalf("body = %q", b)
		}

		start := time.Now()
		var te interface{ Timeout() bool }
		if _, err := c.Get("http://svc/slow"); !errors.As(err, &te) || !te.Timeout() {
			t.Fatalf("slow request: err = %v, want a client timeout", err)
		}
		if d := time.Since(start); d != 10*time.Second {
			t.Errorf("timeout after %v of virtual time, want exactly 10s", d)
		}

		l.SetRefusing(true)
		tr.CloseIdleConnections()
		if _, err := c.Get("http://svc/"); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("refusing listener: err = %v, want ECONNREFUSED", err)
		}
		l.SetRefusing(false)
		if resp, err := c.Get("http://svc/"); err != nil {
			t.Fatal(err)
		} else {
			resp.Body.Close()
		}
		if l.Dials() != 3 { // reused, refused, new
			t.Errorf("Dials = %d", l.Dials())
		}
		l.DropAll()
		l.Close()
	})
}
