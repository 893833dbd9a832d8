//go:build !linux && !windows

package installer

import (
	"fmt"

	"github.com/kardianos/service"
)

func platformOptions(Spec) service.KeyValue { return service.KeyValue{} }

// Install registers the service with the platform's service manager.
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
	return nil
}

// Uninstall removes the service.
func Uninstall(spec Spec, root string) error {
	s, err := New(spec, &Program{})
	if err != nil {
		return err
	}
	if err := s.Uninstall(); err != nil {
		return fmt.Errorf("uninstall service: %w", err)
	}
	return nil
}

// preflight has nothing to check here: the service manager answers clearly.
func preflight(Spec) error { return nil }
