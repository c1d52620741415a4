package loadgen

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
)

// No connection (connect-*) and a failure on an open connection are told apart: an empty Service refuses or
// drops connections, a server that hangs lets them time out.
func TestClassify(t *testing.T) {
	dial := func(err error) error { return &net.OpError{Op: "dial", Net: "tcp", Err: err} }
	read := func(err error) error { return &net.OpError{Op: "read", Net: "tcp", Err: err} }
	for want, err := range map[string]error{
		"connect-refused":     dial(os.NewSyscallError("connect", syscall.ECONNREFUSED)),
		"connect-timeout":     dial(os.ErrDeadlineExceeded),
		"connect-unreachable": dial(os.NewSyscallError("connect", syscall.EHOSTUNREACH)),
		"timeout":             read(os.ErrDeadlineExceeded),
		"reset":               read(os.NewSyscallError("read", syscall.ECONNRESET)),
		"eof":                 io.ErrUnexpectedEOF,
		"other":               errors.New("something else"),
	} {
		if got := classify(err); got != want {
			t.Errorf("classify(%v) = %q, want %q", err, got, want)
		}
	}
}
