package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version is stamped at build time:
//
//	go build -ldflags "-X main.version=v1.2.3" -o posbridge ./cmd/posbridge
//
// Without a stamp it is the module version Go records in the binary
// (`go install github.com/posbridge/posbridge/cmd/posbridge@v1.2.3` gives
// v1.2.3; `go build` in a git checkout a pseudo-version with the commit),
// else "dev" (docs/installation.md). The console and the log show it too.
var version = "dev"

func init() {
	bi, _ := debug.ReadBuildInfo()
	version = readVersion(version, bi).version
}

// buildVersion is what `posbridge version` prints.
type buildVersion struct {
	version  string
	commit   string // vcs.revision, "unknown" without
	modified bool   // vcs.modified
	time     string // vcs.time, "" without
}

// readVersion is the version stamped with -ldflags, else the module
// version of bi (nil: none), else "dev"; and the commit bi records.
func readVersion(stamped string, bi *debug.BuildInfo) buildVersion {
	v := buildVersion{version: stamped, commit: "unknown"}
	if bi == nil {
		return v
	}
	if m := bi.Main.Version; (stamped == "" || stamped == "dev") && m != "" && m != "(devel)" {
		v.version = m
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.commit = s.Value
		case "vcs.modified":
			v.modified = s.Value == "true"
		case "vcs.time":
			v.time = s.Value
		}
	}
	return v
}

func cmdVersion(stdout io.Writer) int {
	bi, _ := debug.ReadBuildInfo()
	v := readVersion(version, bi)
	fmt.Fprintf(stdout, "posbridge %s\ncommit %s", v.version, v.commit)
	if v.modified {
		fmt.Fprint(stdout, " (modified)")
	}
	if v.time != "" {
		fmt.Fprintf(stdout, " of %s", v.time)
	}
	fmt.Fprintf(stdout, "\n%s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return exitOK
}
