package planfile

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// FuzzDecodePlanFile: whatever a plan file holds, decoding it and
// validating it against the configuration must return errors, never
// panic (a panic in apply FILE would exit 11 halfway, or worse, in a
// worker). Seeds are a valid file and crafted ones.
func FuzzDecodePlanFile(f *testing.F) {
	var b bytes.Buffer
	if err := Encode(&b, validPlan(), time.Date(2026, 11, 22, 12, 0, 3, 0, time.UTC)); err != nil {
		f.Fatal(err)
	}
	valid := b.String()
	f.Add(valid)
	f.Add(strings.Replace(valid, `"snapshots": [`, `"snapshots": [], "x": [`, 1))
	f.Add(strings.Replace(valid, `"send": {`, `"send": null, "x": {`, -1))
	f.Add(strings.Replace(valid, `"actions": [`, `"actions": [null,`, 1))
	f.Add(strings.Replace(valid, `"depends_on": [`, `"depends_on": ["nowhere",`, 1))
	f.Add(`{"kind":"zplan-plan","file_version":1,"plan":{"format_version":1,"actions":[{"address":"a","kind":"snapshot","depends_on":["a"]}]}}`)
	f.Add(`{"kind":"zplan-plan","file_version":1,"plan":{"format_version":1,"actions":[{"address":"a","kind":"bookmark","host":"src","dataset":"tank/data"}]}}`)
	f.Add(`{"kind":"zplan-plan","file_version":1,"plan":{"format_version":1,"conflicts":[null],"kept":[null]}}`)
	b.Reset()
	if err := Encode(&b, hookedPlan(), time.Date(2026, 11, 22, 12, 0, 3, 0, time.UTC)); err != nil {
		f.Fatal(err)
	}
	f.Add(b.String())
	f.Add(strings.Replace(b.String(), `"pre": [`, `"pre": [], "x": [`, 1))
	cfg := testConfig()
	f.Fuzz(func(t *testing.T, data string) {
		file, err := Decode(strings.NewReader(data))
		if err != nil {
			return
		}
		_ = file.Verify("key") // must not panic either
		pol, err := PolicyFor(cfg, file.Plan)
		if err != nil {
			return
		}
		errs := Validate(file.Plan, pol)
		for _, a := range file.Plan.Actions {
			// What Validate passes, apply's workers must be able to run:
			// the fields they index are there.
			if len(errs) == 0 && a.CheckShape() != nil {
				t.Fatalf("validated plan with a malformed action %s: %v", a.Address, a.CheckShape())
			}
		}
	})
}
