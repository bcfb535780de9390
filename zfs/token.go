package zfs

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// ResumeToken is what `zfs send -nv -t TOKEN` says a token would resume.
type ResumeToken struct {
	FromGUID uint64 // 0 for a full stream
	ToGUID   uint64
	ToName   string // fs@snap the stream was sending
	Raw      bool
	Bytes    uint64 // bytes already received
}

// ParseResumeToken parses the nvlist dump that `zfs send -nv -t` prints.
func ParseResumeToken(out []byte) (ResumeToken, error) {
	var t ResumeToken
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), " = ")
		if !ok {
			continue
		}
		seen[k] = true
		var err error
		switch k {
		case "fromguid":
			t.FromGUID, err = parseNum(v)
		case "toguid":
			t.ToGUID, err = parseNum(v)
		case "bytes":
			t.Bytes, err = parseNum(v)
		case "toname":
			t.ToName = v
		case "rawok":
			t.Raw = v == "1"
		}
		if err != nil {
			return t, fmt.Errorf("resume token field %s: %w", k, err)
		}
	}
	if !seen["toguid"] || !seen["toname"] {
		return t, fmt.Errorf("resume token: no toguid/toname in %q", truncate(string(out), 300))
	}
	return t, nil
}

func parseNum(s string) (uint64, error) {
	return strconv.ParseUint(strings.TrimSpace(s), 0, 64)
}
