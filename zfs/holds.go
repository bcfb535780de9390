package zfs

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// HoldsArgv lists the holds of the snapshots whose names are written to
// its stdin, NUL-separated (see HoldsStdin). Going through xargs keeps it
// one command per host however many snapshots are held, without hitting
// the length limit of a single SSH command line.
func HoldsArgv() []string {
	return []string{"xargs", "-0", "-r", "zfs", "holds", "-H"}
}

// HoldsStdin encodes snapshot names for HoldsArgv.
func HoldsStdin(snapshots []string) []byte {
	var b bytes.Buffer
	for _, s := range snapshots {
		b.WriteString(s)
		b.WriteByte(0)
	}
	return b.Bytes()
}

// ParseHolds parses `zfs holds -H` output (NAME TAG TIMESTAMP) into the
// tags held on each snapshot.
func ParseHolds(out []byte) (map[string][]string, error) {
	holds := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 3 || !strings.Contains(f[0], "@") || f[1] == "" {
			return nil, fmt.Errorf("zfs holds output line %d %q: want NAME<tab>TAG<tab>TIMESTAMP", n, truncate(line, 200))
		}
		holds[f[0]] = append(holds[f[0]], f[1])
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading zfs holds output: %w", err)
	}
	return holds, nil
}
