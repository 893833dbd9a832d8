package installer

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/kardianos/service"
)

func platformOptions(Spec) service.KeyValue { return service.KeyValue{"Restart": "on-failure"} }

// UnitPath is where the systemd unit is installed, below root ("/" normally).
func UnitPath(root, name string) string {
	return filepath.Join(root, "etc", "systemd", "system", name+".service")
}

var unitTemplate = template.Must(template.New("unit").Parse(`[Unit]
Description=posbridge: bridges point-of-sale software to CodePay card terminals
Documentation={{.Docs}}
After=network-online.target
Wants=network-online.target
StartLimitIntervalSec=300
StartLimitBurst=20

[Service]
Type=simple
ExecStart={{.Exec}}
{{- if .User}}
User={{.User}}
Group={{.User}}
SupplementaryGroups=dialout
{{- end}}
Restart=on-failure
RestartSec=2
TimeoutStopSec=30
KillSignal=SIGTERM
UMask=0077
StateDirectory=posbridge
StateDirectoryMode=0700
NoNewPrivileges=true
ProtectSystem=full
ProtectHome=true
PrivateTmp=true

[Install]
WantedBy=multi-user.target
`))

// quoteArg quotes a command-line word for systemd's ExecStart.
func quoteArg(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\"'\\$%;") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `$$`, `%`, `%%`)
	return `"` + r.Replace(s) + `"`
}

// SystemdUnit renders the unit file: restart on failure after 2 s, a
// dedicated user with serial-port access when spec.User is set.
func SystemdUnit(spec Spec) (string, error) {
	if err := spec.defaults(); err != nil {
		return "", err
	}
	words := append([]string{spec.Executable}, spec.Arguments()...)
	for i, w := range words {
		words[i] = quoteArg(w)
	}
	var b bytes.Buffer
	err := unitTemplate.Execute(&b, struct{ Exec, User, Docs string }{strings.Join(words, " "), spec.User, DocsURL})
	return b.String(), err
}

// Install writes the systemd unit below root (normally "/"), then, when root
// is "/" and systemd runs, enables it. Nothing is left behind on failure.
func Install(spec Spec, root string) error {
	if err := spec.defaults(); err != nil {
		return err
	}
	if err := CheckExecutable(spec.Executable); err != nil {
		return fmt.Errorf("install service: %w", err)
	}
	unit, err := SystemdUnit(spec)
	if err != nil {
		return err
	}
	path := UnitPath(root, spec.Name)
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("install service: %s already exists; run posbridge uninstall first", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("install service: %w", err)
	}
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		return fmt.Errorf("install service: %w", err)
	}
	if root == "/" && systemdRunning() {
		for _, args := range [][]string{{"daemon-reload"}, {"enable", spec.Name + ".service"}} {
			if out, err := exec.Command("systemctl", args...).CombinedOutput(); err != nil {
				os.Remove(path)
				return fmt.Errorf("install service: systemctl %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
			}
		}
	}
	return nil
}

// Uninstall stops and disables the service (when systemd runs) and removes the unit.
func Uninstall(spec Spec, root string) error {
	if spec.Name == "" {
		spec.Name = "posbridge"
	}
	path := UnitPath(root, spec.Name)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("uninstall service: %w (%s does not exist)", ErrNotInstalled, path)
	}
	if root == "/" && systemdRunning() {
		exec.Command("systemctl", "disable", "--now", spec.Name+".service").Run()
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("uninstall service: %w", err)
	}
	if root == "/" && systemdRunning() {
		exec.Command("systemctl", "daemon-reload").Run()
	}
	return nil
}

// preflight says, before asking systemd, what would make it fail
// obscurely: no unit file (not installed), or no systemd at all.
func preflight(spec Spec) error {
	name := spec.Name
	if name == "" {
		name = "posbridge"
	}
	if path := UnitPath("/", name); !fileExists(path) {
		return fmt.Errorf("%w (%s does not exist)", ErrNotInstalled, path)
	}
	if !systemdRunning() {
		return fmt.Errorf("%w: systemd is not running (no /run/systemd/system); run it in the foreground with: posbridge run --config FILE", ErrNoServiceManager)
	}
	return nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func systemdRunning() bool {
	st, err := os.Stat("/run/systemd/system")
	return err == nil && st.IsDir()
}
