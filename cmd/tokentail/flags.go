package main

import "flag"

// parseFlags parses args with flags anywhere among the positional
// arguments, as operators type them (`backfill /logs/*.gz --alerts`): Go's
// flag package alone stops at the first non-flag and would take --alerts
// for a path. A "--" ends the flags; what follows is positional. After it,
// fs.Args() holds the positional arguments in order.
func parseFlags(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	return fs.Parse(append([]string{"--"}, pos...))
}
