package catools

import (
	"fmt"
	"strings"
)

// option is one parsed command-line option.
type option struct {
	name byte
	arg  string
}

// optError is a bad command line: an unknown option or a missing
// argument.
type optError struct {
	tool string
	msg  string
}

// Error returns the message and where to find help.
func (e *optError) Error() string {
	return e.msg + " (see 'cabridge " + strings.TrimPrefix(e.tool, "ca") + " -h')"
}

// UsageError reports whether err is a command-line error (an unknown
// option, a missing option argument or a missing PV name), as opposed to
// a failure to reach or read a PV.
func UsageError(err error) bool {
	_, ok := err.(*optError) //nolint:errorlint // only ever returned unwrapped by this package
	return ok
}

// getopt splits args into options and operands the way POSIX getopt does
// for spec, a string of option letters each followed by ':' if it takes an
// argument: "-abc" is three options, "-w5" and "-w 5" give w the argument
// "5", "--" ends the options. With permute, operands may come before
// options (GNU getopt's default, which caget, camonitor and cainfo use);
// without it the first operand ends the options (caput sets
// POSIXLY_CORRECT so that values like "-5" are not taken for options).
func getopt(tool string, args []string, spec string, permute bool) ([]option, []string, error) {
	takesArg := func(c byte) (known, arg bool) {
		for i := 0; i < len(spec); i++ {
			if spec[i] == c && c != ':' {
				return true, i+1 < len(spec) && spec[i+1] == ':'
			}
		}
		return false, false
	}
	var opts []option
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			if !permute {
				rest = append(rest, args[i:]...)
				break
			}
			rest = append(rest, a)
			continue
		}
		for j := 1; j < len(a); j++ {
			c := a[j]
			known, hasArg := takesArg(c)
			if !known {
				return nil, nil, &optError{tool, fmt.Sprintf("unrecognized option '-%c'", c)}
			}
			if !hasArg {
				opts = append(opts, option{name: c})
				continue
			}
			if j+1 < len(a) {
				opts = append(opts, option{name: c, arg: a[j+1:]})
			} else if i+1 < len(args) {
				i++
				opts = append(opts, option{name: c, arg: args[i]})
			} else {
				return nil, nil, &optError{tool, fmt.Sprintf("option '-%c' requires an argument", c)}
			}
			break
		}
	}
	return opts, rest, nil
}
