package installer

import (
	"fmt"
	"time"

	"github.com/kardianos/service"
	"golang.org/x/sys/windows/svc/mgr"
)

func platformOptions(Spec) service.KeyValue {
	return service.KeyValue{
		"StartType":              "automatic",
		"OnFailure":              "restart",
		"OnFailureDelayDuration": "2s",
		"OnFailureResetPeriod":   60,
	}
}

// Install registers the Windows service (and its Event Log source), then sets
// recovery actions with back-off that also apply to non-crash failures.
// root is ignored on Windows.
func Install(spec Spec, root string) error {
	if err := CheckExecutable(spec.Executable); err != nil {
		return fmt.Errorf("install service: %w", err)
	}
	s, err := New(spec, &Program{})
	if err != nil {
		return err
	}
	if err := s.Install(); err != nil {
		return fmt.Errorf("install service: %w", err)
	}
	if err := setRecovery(spec.Name); err != nil {
		s.Uninstall()
		return fmt.Errorf("install service: set recovery actions: %w", err)
	}
	return nil
}

func setRecovery(name string) error {
	m, err := mgr.Connect()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	svc, err := m.OpenService(name)
	if err != nil {
		return err
	}
	defer svc.Close()
	var actions []mgr.RecoveryAction
	for _, d := range []time.Duration{2 * time.Second, 5 * time.Second, 15 * time.Second, 30 * time.Second, 60 * time.Second} {
		actions = append(actions, mgr.RecoveryAction{Type: mgr.ServiceRestart, Delay: d})
	}
	if err := svc.SetRecoveryActions(actions, 600); err != nil {
		return err
	}
	return svc.SetRecoveryActionsOnNonCrashFailures(true)
}

// Uninstall removes the Windows service. root is ignored on Windows.
func Uninstall(spec Spec, root string) error {
	s, err := New(spec, &Program{})
	if err != nil {
		return err
	}
	service.Control(s, "stop")
	if err := s.Uninstall(); err != nil {
		return fmt.Errorf("uninstall service: %w", err)
	}
	return nil
}

// preflight has nothing to check here: the service manager answers clearly.
func preflight(Spec) error { return nil }
