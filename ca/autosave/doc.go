// Package autosave saves chosen PVs to a file when they change and puts
// the saved values back at startup, as EPICS autosave does with its .sav
// files. It works with any ca.PV: the typed containers, record fields, or
// computed PVs that accept puts.
//
//	s, err := autosave.New(autosave.Config{
//		Path: "/var/lib/myioc/settings.sav",
//		PVs:  []autosave.Entry{{Name: "TEMP:SP", PV: setpoint}},
//	})
//	...
//	if err := s.Restore(ctx); err != nil {
//		log.Warn("some settings not restored", "err", err)
//	}
//	var wg sync.WaitGroup
//	wg.Go(func() { _ = s.Run(ctx) }) // saves on change until ctx is done, then once more
//	...
//	cancel()
//	wg.Wait()
//
// # File format
//
// The file is UTF-8 text, one PV per line, written in the order of
// Config.PVs:
//
//	# cabridge autosave 1
//	# saved 2025-01-02T03:04:05.123456789Z
//	TEMP:SP double 21.5
//	WAVE double 1 2.5 -0 NaN +Inf
//	GAIN float 0.1
//	MODE enum 2 # "Auto"
//	COUNT long -7
//	MSG string "say \"hi\"\n"
//	NAMES string "a" "b c"
//	RAW char 1 2 255
//	NOTE text "a long string, any length"
//	<END>
//
// Each line is NAME TYPE VALUE..., fields separated by spaces. TYPE is one
// of string, short, float, enum, char, long and double, the plain DBR
// type of the value as the PV held it, or text (below). There is one
// VALUE per element: a scalar has one, an array as many as it had
// elements (none for an empty array). Values are:
//   - short, long, char, enum: decimal integers (enum: the state index;
//     the state string follows in a comment for people, and is not read);
//   - float, double: the shortest decimal that reads back to the same
//     bits, NaN, +Inf or -Inf; a NaN with other bits than those "NaN" reads
//     back to is written NaN(0x<hex bits>), so every value round-trips
//     exactly, -0 included;
//   - string: a double-quoted string with Go's escapes (\" \\ \n \t \xHH
//     \u....), so any bytes survive;
//   - text: a DBR_CHAR array that holds one NUL-terminated string (a long
//     string such as a NAME$ field or a ca.Char) is written as the quoted
//     text; it reads back as the text's bytes followed by one NUL.
//
// Blank lines and lines starting with '#' are ignored; a '#' field ends a
// line. The <END> line marks a complete file: Restore reports a file
// without it, and a last line without a newline, as cut short. On restore
// each value is put with PV.Put, which converts it to the PV's native type,
// so a file survives a change of a PV's type where the conversion exists.
//
// # Writing
//
// Each save writes a temporary file in the file's directory, syncs it,
// keeps the old file as Path+".bak" (a hard link) and renames the new file
// over Path, then syncs the directory. A crash at any point leaves a
// complete Path, the old version or the new one, never a truncated one. If
// Path is missing but Path+".bak" exists, Restore reads the backup.
// Temporary files of a process killed mid-write are left behind (named
// Path.tmp*).
package autosave
