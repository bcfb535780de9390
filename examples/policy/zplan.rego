# Conftest-style policy for `zplan show -json PLANFILE`:
#
#   zplan show -json plan.zplan > plan.json
#   conftest test --policy examples/policy plan.json
#   conftest test --policy examples/policy --data limits.json plan.json
#
# limits.json (optional) tunes it:
#   {"zplan": {"max_destroy": 10, "allow_partial": false}}
#
# It denies a plan that
#   - destroys more than data.zplan.max_destroy snapshots (default 10),
#     counting the snapshots a rollback destroys, as `show -json` does;
#   - rolls back any dataset (on_divergence = "rollback");
#   - is partial (made with -target), unless data.zplan.allow_partial.
package main

import rego.v1

default max_destroy := 10

max_destroy := data.zplan.max_destroy

default allow_partial := false

allow_partial := data.zplan.allow_partial

destroyed contains rc.name if {
	some rc in input.resource_changes
	rc.type == "zfs_snapshot"
	rc.change.actions == ["delete"]
}

deny contains msg if {
	count(destroyed) > max_destroy
	msg := sprintf("the plan destroys %d snapshots (more than %d): %s", [count(destroyed), max_destroy, concat(", ", sort(destroyed))])
}

deny contains msg if {
	some rc in input.resource_changes
	rc.type == "zfs_rollback"
	msg := sprintf("the plan rolls back %s:%s (%s)", [rc.host, rc.dataset, rc.address])
}

deny contains msg if {
	input.partial == true
	not allow_partial
	msg := sprintf("the plan is partial (-target %s); set data.zplan.allow_partial to apply it", [concat(" -target ", input.targets)])
}
