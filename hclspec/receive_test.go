package hclspec

import (
	"reflect"
	"strings"
	"testing"
)

func replWithTarget(target, send string) map[string]string {
	return map[string]string{"main.hcl": hostsHCL + `
replication "r" {
  source {
    host     = host.local
    datasets = ["tank/data"]
  }
  target {
    host = host.nas
    root = "backup"
` + target + `
  }
` + send + `
}
`}
}

func TestLoadReceive(t *testing.T) {
	cases := []struct {
		name, target, send string
		want               ReceiveOptions
	}{
		{"defaults", "", "", ReceiveOptions{Set: map[string]string{"readonly": "on", "canmount": "noauto"}}},
		{"properties keep the mountpoint out", "", "send {\n properties = true\n}",
			ReceiveOptions{Set: map[string]string{"readonly": "on", "canmount": "noauto"}, Inherit: []string{"mountpoint"}}},
		{"set overrides a default and adds", `receive {
  set = { readonly = "off", compression = "zstd", "com.example:role" = "replica" }
}`, "", ReceiveOptions{Set: map[string]string{"readonly": "off", "canmount": "noauto", "compression": "zstd", "com.example:role": "replica"}}},
		{"mountpoint set, not inherited", `receive {
  set = { mountpoint = "/srv/replica" }
}`, "send {\n properties = true\n}", ReceiveOptions{Set: map[string]string{"readonly": "on", "canmount": "noauto", "mountpoint": "/srv/replica"}}},
		{"inherit drops a default", `receive {
  inherit = ["canmount", "atime"]
}`, "", ReceiveOptions{Set: map[string]string{"readonly": "on"}, Inherit: []string{"atime", "canmount"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, diags := load(t, replWithTarget(tc.target, tc.send))
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if got := cfg.Replications[0].Receive; !reflect.DeepEqual(got, tc.want) {
				t.Errorf("receive = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestLoadReceiveErrors(t *testing.T) {
	cases := []struct{ name, target, summary, detail string }{
		{"not a property", "receive {\n set = { \"Read Only\" = \"on\" }\n}", "Invalid receive property", "is not a ZFS property name"},
		{"zplan's own", "receive {\n set = { \"zplan:placeholder\" = \"x\" }\n}", "Invalid receive property", "set by zplan"},
		{"origin", "receive {\n set = { origin = \"tank/a@s\" }\n}", "Invalid receive property", "clone"},
		{"control character", "receive {\n set = { \"com.example:note\" = \"a\\nb\" }\n}", "Invalid receive property value", "control character"},
		{"empty value", "receive {\n set = { compression = \"\" }\n}", "Invalid receive property value", "is empty"},
		{"both", "receive {\n set = { atime = \"off\" }\n inherit = [\"atime\"]\n}", "Conflicting receive property", "both in set and in inherit"},
		{"inherit odd name", "receive {\n inherit = [\"-o\"]\n}", "Invalid receive property", "is not a ZFS property name"},
		{"two blocks", "receive {}\nreceive {}", "Duplicate receive block", "one receive block"},
		{"not a map", "receive {\n set = [\"readonly=on\"]\n}", "Incorrect attribute value type", "map of strings"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := load(t, replWithTarget(tc.target, ""))
			for _, d := range diags {
				if d.Summary == tc.summary && strings.Contains(d.Detail, tc.detail) {
					if d.Subject == nil || !strings.HasSuffix(d.Subject.Filename, "main.hcl") {
						t.Errorf("diagnostic %q does not point into main.hcl: %v", d.Summary, d.Subject)
					}
					return
				}
			}
			t.Errorf("diagnostics %v, want %q containing %q", diags, tc.summary, tc.detail)
		})
	}
}
