package lab_test

import "syscall"

// dieWithParent has the kernel kill a burner when the test dies.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
