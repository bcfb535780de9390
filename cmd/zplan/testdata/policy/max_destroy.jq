# Conftest-style policy for `zplan show -json PLANFILE`:
#   jq -r -e --argjson max 10 -f max_destroy.jq < plan.json
# prints "deny: ..." and exits 1 when the plan destroys more than $max
# snapshots, prints "allow" and exits 0 otherwise.
[.resource_changes[] | select(.type == "zfs_snapshot" and .change.actions == ["delete"])] as $d
| if ($d | length) > $max
  then "deny: the plan destroys \($d | length) snapshots (more than \($max)): \([$d[].name] | join(", "))", false
  else "allow" end
