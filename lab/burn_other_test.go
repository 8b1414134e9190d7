//go:build !linux

package lab_test

import "syscall"

// dieWithParent: elsewhere the burners end at their deadline.
func dieWithParent() *syscall.SysProcAttr { return nil }
