package main

import (
	"bytes"
	"context"
	"runtime"
	"strings"
	"testing"
)

// TestEveryCommandHasHelp: `posbridge COMMAND --help` (and -h) prints the
// usage line, a one-line description, the flags that apply and an example to
// stdout, and exits 0.
func TestEveryCommandHasHelp(t *testing.T) {
	for name, h := range helps {
		for _, flag := range []string{"--help", "-h"} {
			args := append(strings.Fields(name), flag)
			var out, errb bytes.Buffer
			if code := dispatch(context.Background(), args, &out, &errb); code != exitOK {
				t.Errorf("%v: exit %d, want 0 (stderr %q)", args, code, errb.String())
			}
			got := out.String()
			for _, want := range []string{"Usage: " + h.usage, h.summary, "Example:\n  " + h.example, "Flags:"} {
				if !strings.Contains(got, want) {
					t.Errorf("%v: help lacks %q:\n%s", args, want, got)
				}
			}
		}
	}
	// Only the flags that apply: show takes an order number, not filters.
	var out bytes.Buffer
	dispatch(context.Background(), []string{"payments", "show", "--help"}, &out, &out)
	for _, absent := range []string{"-state", "-limit", "-terminal"} {
		if strings.Contains(out.String(), absent) {
			t.Errorf("payments show --help lists %s:\n%s", absent, out.String())
		}
	}
	// A group without a subcommand lists its subcommands.
	for _, group := range []string{"batch", "payments"} {
		var out, errb bytes.Buffer
		if code := dispatch(context.Background(), []string{group, "--help"}, &out, &errb); code != exitOK || !strings.Contains(out.String(), "posbridge "+group+" ") {
			t.Errorf("%s --help: exit %d:\n%s", group, code, out.String())
		}
		if code := dispatch(context.Background(), []string{group}, &out, &errb); code != exitUsage {
			t.Errorf("%s alone: exit %d, want 2", group, code)
		}
	}
}

// TestBadFlagPointsToHelp: an unknown flag exits 2 and says where the help is.
func TestBadFlagPointsToHelp(t *testing.T) {
	var out, errb bytes.Buffer
	if code := dispatch(context.Background(), []string{"check", "--nope"}, &out, &errb); code != exitUsage {
		t.Fatalf("exit %d, want 2", code)
	}
	if !strings.Contains(errb.String(), "flag provided but not defined: -nope") || !strings.Contains(errb.String(), "posbridge check --help") {
		t.Errorf("stderr = %q", errb.String())
	}
}

// TestServiceNotInstalledSaysSo: status, stop and start of a service that is
// not installed say so and how to install it, not "exit status 1".
func TestServiceNotInstalledSaysSo(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the unit-file check is Linux's")
	}
	name := "posbridge-test-not-installed"
	var out, errb bytes.Buffer
	if code := dispatch(context.Background(), []string{"status", "--name", name}, &out, &errb); code != exitFailure || !strings.Contains(out.String(), "is not installed") {
		t.Errorf("status: exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
	for _, action := range []string{"start", "stop", "restart"} {
		out.Reset()
		errb.Reset()
		code := dispatch(context.Background(), []string{action, "--name", name}, &out, &errb)
		if code != exitFailure || !strings.Contains(errb.String(), `service "`+name+`" is not installed; install it with: posbridge install --config FILE`) {
			t.Errorf("%s: exit %d, stderr %q", action, code, errb.String())
		}
	}
}
