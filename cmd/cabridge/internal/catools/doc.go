// Package catools implements the Channel Access command-line tools of
// EPICS base, caget, caput, camonitor and cainfo, on cabridge's Go CA
// client, for "cabridge get", "put", "monitor" and "info": images that
// have no EPICS base (and no shell) still get the tools operators know,
// with the same options, the same output and the same EPICS_CA_*
// environment variables.
//
//	cfg, err := client.ConfigFromEnv(os.LookupEnv)
//	if err != nil { ... }
//	o, names, err := catools.ParseGet([]string{"-a", "DEMO:TEMP"}, os.LookupEnv, os.Stderr)
//	if err != nil { ... } // catools.ErrHelp for -h; UsageError(err) for a bad command line
//	err = catools.Get(ctx, cfg, names, o, os.Stdout, os.Stderr)
//
// Each tool is a Parse function, which reads the command line as EPICS
// base's getopt does ("-w5", "-#", "3", "-f8" and clustered flags; invalid
// arguments are warned about and ignored, as there), and a run function
// that takes a context, a client configuration, the parsed options and
// the writers for stdout and stderr. The run functions print what the
// EPICS tools print, including their messages on stderr ("Channel connect
// timed out: 'X' not found."), and return an error wrapping ErrFailed
// where the EPICS tool exits with status 1.
//
// Output follows EPICS 7's tools: caget's "name value" lines with the
// name padded to 30 columns for scalars, the element count before array
// values, C's %g for floating-point values (or -e, -f, -g), escaped
// strings, enums as state strings (-n: numbers), char arrays as strings
// (-S); camonitor's and caget -a's "name timestamp value stat sevr" with
// local time to the microsecond and two trailing separators when there is
// no alarm; caget -d's block with the metadata of the requested DBR type;
// caput's "Old : " and "New : " lines; cainfo's block. EPICS_CLI_TIMEOUT
// sets the default of -w (1 s) as in EPICS 7.0.7 and later.
//
// # Concurrency
//
// Every run function starts its own client and closes it before it
// returns; Monitor runs until its context ends and stops every goroutine
// it started before returning.
package catools
